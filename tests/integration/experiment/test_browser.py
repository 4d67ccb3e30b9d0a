"""report.html opens in a real browser with its figure visible: headless Chromium takes a
screenshot, and the screenshot holds the plot's own colours (not a broken image icon).

CI needs Debian's ``chromium`` package (``apt-get install -y chromium``); locally the
test is skipped without it, and fails under CI=true without it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seawall.experiment import write_report
from tests.integration.conftest import need
from tests.unit.experiment.journals import sample_journal

pytestmark = pytest.mark.integration

MATPLOTLIB_BLUE = (0x1F, 0x77, 0xB4)  # the p50 line, throughput line, method bars
ERROR_RED = (0xCF, 0x22, 0x2E)  # the errors-per-second bars


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _pixels_near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: float = 0.04) -> int:
    target = np.array(rgb, dtype=float) / 255.0
    return int((np.abs(image[:, :, :3] - target).max(axis=2) < tolerance).sum())


def test_the_html_report_renders_with_its_plots_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    need(browser is not None, "chromium is not installed (apt-get install -y chromium)")
    assert browser is not None
    from matplotlib.image import imread

    write_report(sample_journal(), tmp_path / "report")
    page = (tmp_path / "report" / "report.html").resolve()
    shot = tmp_path / "screenshot.png"
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert shot.exists(), f"no screenshot (exit {result.returncode}):\n{result.stderr[-2000:]}"
    assert shot.stat().st_size > 50_000  # a page of text and a figure, not an empty frame
    image = imread(shot)
    assert image.shape[:2] == (1600, 1200)
    colours = np.unique((image[::4, ::4, :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200  # not blank, not a single colour
    assert _pixels_near(image, MATPLOTLIB_BLUE) > 2_000  # the figure's lines and bars
    assert _pixels_near(image, ERROR_RED) > 2_000  # the error bars
