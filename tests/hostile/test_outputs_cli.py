"""The command line itself: start-up time, help that shows what to type, output that does not
wrap mid-label at 80 columns, policies without reStructuredText markup."""

from __future__ import annotations

import re
import subprocess
import sys

from socsim import __version__
from tests.hostile.conftest import REPO, run_socsim, snapshot
from tests.hostile.outputs_support import cli, tiny_scenario, unchanged


def test_version_is_fast_and_imports_no_heavy_module(tmp_path):
    r = run_socsim("--version", cwd=tmp_path, timeout=20)
    assert r.code == 0 and r.out.strip() == f"socsim {__version__}"
    assert r.seconds < 5, r.seconds  # 2-3.7 s before imports were deferred; ~0.3 s idle
    probe = ("import sys, socsim.cli; from socsim.cli import main; main(['--help']); "
             "print(sorted(m for m in ('onnx', 'pandas', 'matplotlib', 'numba', 'pydantic', "
             "'simpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=tmp_path, timeout=30, check=False)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_shows_what_to_type(capsys, tmp_path):
    for args in (["--help"], ["run", "--help"], ["validate", "--help"], ["policies", "--help"]):
        r = cli(capsys, *args, cwd=tmp_path, bound_s=10)
        assert r.code == 0, r.text
        for typer_noise in ("<bool>", "<list[str]>", "{scenario}", "{files}"):
            assert typer_noise not in r.out, (args, r.out)
    r = cli(capsys, "run", "--help", cwd=tmp_path)
    assert "Usage: socsim run [OPTIONS] SCENARIO" in r.out
    for shown in ("--out", "DIR", "--set", "PATH=VALUE", "--max-ops", "--seed"):
        assert shown in r.out, shown
    assert list(tmp_path.iterdir()) == []


def test_max_ops_default_in_help_is_the_real_one(capsys, tmp_path):
    from socsim.run import DEFAULT_MAX_OPS

    r = cli(capsys, "run", "--help", cwd=tmp_path)
    assert f"default {DEFAULT_MAX_OPS:,}" in " ".join(r.out.replace("│", " ").split())


def test_policies_print_no_restructuredtext(capsys, tmp_path):
    r = cli(capsys, "policies", cwd=tmp_path)
    assert r.code == 0 and "``" not in r.out
    assert "greedy_eft" in r.out and "rules" in r.out and "single" in r.out
    assert "else on default." in " ".join(r.out.split())


def test_summary_never_wraps_mid_label_at_80_columns(sandbox, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    scenario = tiny_scenario(sandbox, functional=True)
    before = snapshot(sandbox)
    r = cli(capsys, "run", str(scenario), "--out", "out", cwd=sandbox)
    assert r.code == 0, r.text
    lines = r.out.splitlines()
    assert max(len(line) for line in lines if not line.startswith("report: ")) <= 80
    for label, value in (("latency ms (p50 / p99 / max)", r"[\d.]+ / [\d.]+ / [\d.]+"),
                         ("energy mJ (total / per inference)", r"[\d.e-]+ / [\d.e-]+"),
                         ("compute mJ", r"[\d.e-]+"), ("idle mJ", r"[\d.e-]+"),
                         ("page faults / evictions", r"\d+ / \d+"),
                         ("zero-copy hand-offs (bytes)", r"[\d,]+ \([\d,]+\)"),
                         ("kws: output saturations", r"[\d,]+")):
        assert any(re.search(re.escape(label) + r"\s*│\s*" + value, ln) for ln in lines), (
            label, r.out)
    unchanged(before, sandbox, skip=sandbox / "out")


def test_python_m_socsim_and_usage_errors(tmp_path):
    r = run_socsim("frobnicate", cwd=tmp_path, timeout=30)
    assert r.code == 2 and "No such command 'frobnicate'" in r.err
    assert list(tmp_path.iterdir()) == []


def test_readme_links_and_examples_hold():
    readme = (REPO / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (REPO / target).exists(), target
    assert "../shared" not in readme


def test_readme_run_examples_load(capsys, tmp_path):
    """Every ``socsim run`` example in the README loads and validates its --set overrides:
    run with ``--max-ops 1``, each is refused by its size alone, after validation."""
    readme = (REPO / "README.md").read_text()
    examples = [" ".join(m.split()) for m in re.findall(r"`(socsim run scenarios/[^`]+)`",
                                                        readme)]
    assert len(examples) >= 2, examples
    for k, example in enumerate(examples):
        args = example.split()[1:]
        r = cli(capsys, *args, "--max-ops", "1", "--out", str(tmp_path / str(k)), cwd=REPO)
        assert r.code == 1 and "over the limit of 1 ops" in r.err, (example, r.text)
    assert list(tmp_path.iterdir()) == []
