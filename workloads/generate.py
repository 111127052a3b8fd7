"""Write zoo models (socsim.zoo) as ONNX files.

Usage: ``python workloads/generate.py [--out DIR] [--seed N] [NAME ...]`` (all models if no NAME).
Existing files are replaced atomically. Exit status 1 on a socsim error, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent))  # run from a clone without installing socsim

from socsim import zoo  # noqa: E402
from socsim.errors import SocsimError  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="generate.py",
        description="Generate socsim zoo models as ONNX files.",
        epilog="models: " + ", ".join(zoo.NAMES),
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="models to write (default: all)")
    p.add_argument(
        "--out", type=Path, default=_HERE, help="output directory (default: %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="weight seed (default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Writes the chosen models; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in zoo.NAMES]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from {', '.join(zoo.NAMES)}")
    try:
        for name in args.names or zoo.NAMES:
            start = time.perf_counter()
            path = zoo.save(name, args.out / f"{name}.onnx", seed=args.seed)
            size_kib = path.stat().st_size / 1024
            print(f"{path}  {size_kib:,.0f} KiB  {time.perf_counter() - start:.2f} s")
    except SocsimError as e:
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
