"""``socsim report``: the page loads in a real headless browser and shows its plots."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from socsim.cli import main
from socsim.report.html import comparison_table, load_run
from socsim.zoo import ensure

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "battery_kws.yaml"
#: at 83 °C ambient (the scenario's 81.8 °C takes ~3 s) the NPU passes the rule's 84.8 °C
#: after about 0.9 s (RC: tau 1.2 s, 3.38 K above ambient) and the vision stream switches to
#: its DSP variant
SWITCHING = ROOT / "scenarios" / "two_streams_threshold.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y "
    "chromium); the browser check needs it")
#: the page is laid out at this size for the screenshot and for the figures' boxes
WINDOW = (1400, 6000)


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
    ensure(ROOT / "workloads" / "mobilenetv2_int8.onnx")
    out = base / "threshold"
    assert main(["run", str(SWITCHING), "--out", str(out), "--set", "run.functional=false",
                 "--set", "run.ambient_c=83", "--set", "workloads.0.duration_s=1.3", "--set",
                 "workloads.1.duration_s=1.3"]) == 0
    dirs.append(out)
    page = base / "report.html"
    assert main(["report", *map(str, dirs), "--out", str(page)]) == 0
    return dirs, page


def test_table_compares_the_summaries(runs):
    dirs, _ = runs
    table = comparison_table([load_run(d) for d in dirs])
    assert list(table.columns) == ["performance", "powersave", "threshold"]
    life = table.loc["battery life h"]
    assert life["powersave"] > life["performance"]


def test_page_is_self_contained(runs):
    _, page = runs
    text = page.read_text()
    assert "<script src=" not in text  # plotly.js inline: works offline
    # over time, distributions, 3 Gantts
    assert text.count('class="plotly-graph-div"') == 5


def test_variant_and_battery_panels(runs):
    dirs, page = runs
    text = page.read_text()
    for panel in ("model variant", "battery state of charge (%)", "utilisation (busy fraction)"):
        assert panel in text
    # the variant steps come from the run's switch records
    summary = json.loads((dirs[2] / "summary.json").read_text())
    steps = summary["series"]["variants"]["vision"]
    assert steps["variant"][0] == "int8" and "small_dsp" in steps["variant"]
    switches = [sw for sw in summary["runtime"]["switches_by_kind"].items() if sw[0] == "variant"]
    assert switches and len(steps["time_ms"]) == 1 + switches[0][1]
    assert "threshold: vision variant" in text


def test_bad_folder_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no summary.json" in capsys.readouterr().err


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={profile}", *args,
         page.as_uri()], capture_output=True, text=True, timeout=180)


@NEEDS_CHROMIUM
def test_page_renders_in_headless_chromium(runs, tmp_path):
    _, page = runs
    proc = _chromium(page, tmp_path / "profile", "--dump-dom")
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the page's own check: every plotly div drew its SVG, no script error was caught
    assert 'data-plots-rendered="5"' in dom
    assert "rendered 5 of 5 plots; errors: 0" in dom
    # and the browser's console saw no JavaScript error
    console_errors = [ln for ln in proc.stderr.splitlines()
                      if "CONSOLE" in ln and re.search(r"error|Uncaught", ln, re.I)]
    assert console_errors == []
    assert dom.count("main-svg") >= 5


def _coloured(pixels: np.ndarray) -> np.ndarray:
    """Saturated pixels (max - min channel > 60): plotly's trace colours; the page's white,
    the plots' grey-blue background (#E5ECF6), grid lines and text are not."""
    rgb = pixels[..., :3].astype(int)
    return (rgb.max(axis=-1) - rgb.min(axis=-1)) > 60


@NEEDS_CHROMIUM
def test_screenshot_shows_the_plots_drawn(runs, tmp_path):
    """A screenshot of the page, cropped to each figure's box (as the page measured it in the
    same window size): each holds drawn traces in several colours; the summary table above
    the figures holds none (so the check can tell a blank plot from a drawn one)."""
    from PIL import Image

    _, page = runs
    dom = _chromium(page, tmp_path / "p1", "--dump-dom").stdout
    found = re.search(r'data-plot-boxes="([^"]*)"', dom)
    assert found, "the page did not record its figures' boxes"
    boxes = json.loads(html.unescape(found.group(1)))
    shot = tmp_path / "page.png"
    proc = _chromium(page, tmp_path / "p2", f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[1] == WINDOW[0]
    assert len(boxes) == 5 and all(w > 300 and h > 200 for _, _, w, h in boxes)
    first_top = min(round(y) for _, y, _, _ in boxes)
    assert first_top > 200 and not _coloured(img[:first_top - 5]).any()  # title and table
    # the over-time figure (many traces), the distributions, each run's Gantt
    min_colours = [8, 3, 2, 2, 2]
    for (x, y, w, h), need in zip(boxes, min_colours):
        x0, y0 = int(x), int(y)
        crop = img[y0:y0 + int(h), x0:x0 + int(w)]
        assert crop.shape[0] > 100, f"figure at y={y0} is outside the screenshot"
        mask = _coloured(crop)
        assert mask.sum() > 500, f"figure at y={y0}: almost nothing drawn ({mask.sum()} px)"
        quantised = (crop[mask] // 32).astype(int)
        codes, counts = np.unique(quantised[:, 0] * 64 + quantised[:, 1] * 8 + quantised[:, 2],
                                  return_counts=True)
        assert (counts >= 30).sum() >= need, (y0, sorted(counts)[-10:])
