"""The report (Markdown + one self-contained HTML page) and the postmortem draft."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from seawall._errors import ConfigError
from seawall.experiment import draft_postmortem, load_journal, write_report
from seawall.experiment._postmortem import measure_impact
from tests.unit.experiment.journals import sample_journal


def test_report_files_are_written_and_the_html_is_self_contained(tmp_path: Path) -> None:
    paths = write_report(sample_journal(), tmp_path)
    assert {p.name for p in paths} == {"report.md", "report.html", "report.png"}
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # no external asset at all
    [image] = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(image) > 20_000
    assert "DEVIATED" in page
    assert "latency on ledger (downstream)" in page
    png = (tmp_path / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_markdown_report_has_every_section(tmp_path: Path) -> None:
    write_report(sample_journal(), tmp_path)
    md = (tmp_path / "report.md").read_text()
    for heading in (
        "# Experiment report: Checkout survives a slow ledger",
        "## Summary",
        "## Steady state before the method: checkout answers",
        "## Steady state after the method",
        "## Method",
        "## Rollbacks",
        "## Fault windows",
        "## Load",
        "## Over time",
        "## Timeline",
    ):
        assert heading in md
    assert "![latency, throughput and errors over time](report.png)" in md
    assert "deviated \\| with a pipe" in md  # table cells are escaped
    assert "| process ledger killed | kill-process | 8.200 | 10.200 | 2.000 |" in md


def test_the_figure_decodes_and_is_not_blank(tmp_path: Path) -> None:
    from matplotlib.image import imread

    write_report(sample_journal(), tmp_path)
    pixels = imread(tmp_path / "report.png")
    height, width = pixels.shape[:2]
    assert width >= 1000
    assert height >= 800
    assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[2])[::97]}) > 50


def test_a_journal_without_load_still_reports(tmp_path: Path) -> None:
    journal = sample_journal() | {"load": [], "fault_windows": []}
    write_report(journal, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "No load was generated." in md
    assert "No fault was injected." in md


def test_impact_compares_fault_seconds_with_the_seconds_before() -> None:
    [impact] = measure_impact(sample_journal())
    assert impact.requests == 700
    assert impact.errors == 116
    assert impact.baseline_p99_ms is not None
    assert 30 <= impact.baseline_p99_ms <= 34
    assert impact.fault_p99_ms == 480.0
    assert impact.error_seconds == 6
    assert impact.fault_errors == 116  # every error fell inside a fault window


def test_postmortem_draft_has_the_blameless_sections() -> None:
    text = draft_postmortem(sample_journal(), "runs/x/journal.json")
    for heading in (
        "# Postmortem (draft): Checkout survives a slow ledger",
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Trigger",
        "## What went well",
        "## What went badly",
        "## Action items",
    ):
        assert heading in text
    assert "Blameless" in text
    assert "ended **deviated**" in text
    assert "700 requests, 116 failed (16.57%)" in text
    assert "latency on ledger (downstream) (`proxy-toxic`), from t=3.2 s until t=7.2 s." in text
    assert "All 2 rollback(s) ran and succeeded." in text
    assert "Probe `home-ok` was out of tolerance afterwards" in text
    assert "p99 latency rose" in text
    assert "| 1 | _TODO_: address" in text  # action items are placeholders
    assert "2026-05-04T10:00:03.200Z" in text


def test_load_journal_rejects_what_is_not_a_journal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for content, message in [
        ("{", "not a JSON journal"),
        ("[]", "a journal is a JSON object"),
        ('{"title": "x"}', "no 'experiment' field"),
        ('{"experiment": {}, "status": 3}', "'status' must be a str"),
        ('{"experiment": {}, "status": "completed", "run": {}}', "'run' must be a list"),
    ]:
        bad.write_text(content)
        with pytest.raises(ConfigError, match=message):
            load_journal(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_journal(tmp_path / "missing.json")


def test_a_chaos_toolkit_journal_gets_a_postmortem(tmp_path: Path) -> None:
    ctk = {
        "chaoslib-version": "1.42.0",
        "experiment": {"title": "ctk run"},
        "status": "completed",
        "deviated": False,
        "start": "2026-01-01T00:00:00",
        "duration": 3.2,
        "steady_states": {"before": {"steady_state_met": True, "probes": []}, "after": None},
        "run": [{"activity": {"name": "a"}, "status": "succeeded"}],
        "rollbacks": [],
    }
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(ctk))
    text = draft_postmortem(load_journal(path), str(path))
    assert "# Postmortem (draft): ctk run" in text
    assert "No load was generated" in text
    write_report(load_journal(path), tmp_path)
    assert (tmp_path / "report.html").exists()
