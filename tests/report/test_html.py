"""``socsim report``: the page loads in a real headless browser and shows its plots."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from socsim.cli import main
from socsim.report.html import comparison_table, load_run

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "battery_kws.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    dirs = []
    for gov in ("performance", "powersave"):
        out = base / gov
        assert main(["run", str(SCENARIO), "--out", str(out), "--set",
                     "workloads.0.duration_s=0.3", "--set",
                     f"run.governors.cpu.name={gov}"]) == 0
        dirs.append(out)
    page = base / "report.html"
    assert main(["report", *map(str, dirs), "--out", str(page)]) == 0
    return dirs, page


def test_table_compares_the_summaries(runs):
    dirs, _ = runs
    table = comparison_table([load_run(d) for d in dirs])
    assert list(table.columns) == ["performance", "powersave"]
    life = table.loc["battery life h"]
    assert life["powersave"] > life["performance"]


def test_page_is_self_contained(runs):
    _, page = runs
    text = page.read_text()
    assert "<script src=" not in text  # plotly.js inline: works offline
    assert text.count('class="plotly-graph-div"') == 4  # over time, distributions, 2 Gantts


def test_bad_folder_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no summary.json" in capsys.readouterr().err


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: "
                    "apt-get install -y chromium); the browser check needs it")
def test_page_renders_in_headless_chromium(runs, tmp_path):
    _, page = runs
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=20000", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180)
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the page's own check: every plotly div drew its SVG, no script error was caught
    assert 'data-plots-rendered="4"' in dom
    assert "rendered 4 of 4 plots; errors: 0" in dom
    # and the browser's console saw no JavaScript error
    console_errors = [ln for ln in proc.stderr.splitlines()
                      if "CONSOLE" in ln and re.search(r"error|Uncaught", ln, re.I)]
    assert console_errors == []
    assert dom.count("main-svg") >= 4
