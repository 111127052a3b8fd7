"""``socsim zoo``: list and build the zoo's models (generated from their architectures, seeded).

Loading a scenario never writes: a scenario naming a zoo model that is not committed (the
MobileNetV2 files) fails with a message naming ``socsim zoo build NAME``, the one explicit
step that writes it. Registered on the root app by :mod:`socsim.cli`; the zoo (onnx,
onnxruntime) is imported inside the commands.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from socsim.errors import ConfigError

zoo_app = typer.Typer(no_args_is_help=True, add_completion=False,
                      help="List and build the zoo's models (seeded, generated on request).")
_out = Console()
_err = Console(stderr=True)


@zoo_app.command("list")
def list_models(
    out: Annotated[Path, typer.Option("--out", metavar="DIR",
                                      help="Folder to look for the files in.")] = Path("workloads"),
) -> None:
    """List the zoo's models and whether each file is in DIR."""
    from socsim import zoo

    for name in zoo.NAMES:
        path = out / f"{name}.onnx"
        state = "present" if path.is_file() else "missing"
        kind = "int8 QDQ of " if name.endswith(zoo.INT8_SUFFIX) else ""
        _out.print(f"{name:<24} {state:<8} {kind}{zoo.spec(name).summary}", highlight=False,
                   soft_wrap=True)


@zoo_app.command("build")
def build(
    names: Annotated[list[str] | None, typer.Argument(
        metavar="NAME", show_default=False, help="Zoo models to build (see `socsim zoo list`).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Build every zoo model.")] = False,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder to write "
                                      "<NAME>.onnx into (created if missing).")
                   ] = Path("workloads"),
    seed: Annotated[int, typer.Option(min=0, metavar="N", help="Weight seed.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Rebuild files that exist.")] = False,
) -> None:
    """Write zoo models as DIR/NAME.onnx (same name and seed: same bytes; existing files kept
    unless --force)."""
    from socsim import zoo

    if bool(names) == all_:
        raise ConfigError("give zoo model names or --all (not both)",
                          hint=f"models: {', '.join(zoo.NAMES)}")
    chosen = list(zoo.NAMES) if all_ else list(dict.fromkeys(names or []))
    unknown = [n for n in chosen if n not in zoo.NAMES]
    if unknown:
        raise ConfigError(f"unknown zoo model(s) {', '.join(map(repr, unknown))}; valid names: "
                          f"{', '.join(zoo.NAMES)}")
    for name in chosen:
        path = out / f"{name}.onnx"
        if path.exists() and not force:
            _err.print(f"{path}: exists, kept (--force rebuilds it)", highlight=False,
                       soft_wrap=True)
            continue
        _err.print(f"building {name} (seed {seed}) -> {path}", highlight=False, soft_wrap=True)
        t0 = time.perf_counter()
        zoo.save(name, path, seed=seed)
        _err.print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB, "
                   f"{time.perf_counter() - t0:.1f} s)", highlight=False, soft_wrap=True)
