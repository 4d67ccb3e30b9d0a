"""The run report: ``report.md`` (with ``report.png`` beside it) and one self-contained
``report.html`` (the figure embedded as a base64 PNG, styles inline, no script, no
external asset), both written from the journal alone.

Both formats render the same list of sections, so they never disagree.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.experiment._journal import activity_error, activity_name, outcome

__all__ = ["Section", "report_sections", "to_html", "to_markdown", "write_report"]

_STATUS_TEXT = {
    "completed": "the steady-state hypothesis held",
    "deviated": "the system deviated: the hypothesis did not hold after the method",
    "failed": "the run failed before it could show anything",
    "interrupted": "the run was interrupted; rollbacks ran",
}


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    headers: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    figure: bool = False


def _fmt_s(value: Any) -> str:
    return "" if value is None else f"{float(value):.3f}"


def _ms(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.1f} ms"


def _detail(run: dict[str, Any]) -> str:
    error = activity_error(run)
    if error:
        return error
    if "tolerance_reason" in run:
        return str(run["tolerance_reason"])
    output = run.get("output")
    if isinstance(output, dict) and "status" in output:
        return f"status {output['status']}"
    text = "" if output is None else str(output)
    return text if len(text) <= 80 else text[:77] + "..."


def _activity_rows(runs: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for run in runs:
        met = run.get("tolerance_met")
        rows.append(
            (
                _fmt_s(run.get("t_start")),
                activity_name(run),
                str(run.get("type", "")),
                str(run.get("description") or run.get("provider", "")),
                _fmt_s(run.get("duration")),
                str(run.get("status", "")) + ("" if met is None else (" ✓" if met else " ✗")),
                _detail(run),
            )
        )
    return rows


_ACTIVITY_HEADERS = ("t (s)", "activity", "type", "what", "duration (s)", "status", "detail")


def report_sections(journal: dict[str, Any], *, with_figure: bool) -> list[Section]:
    status = outcome(journal)
    summary = Section("Summary", headers=("", ""))
    summary.rows = [
        ("Status", f"{status} — {_STATUS_TEXT.get(status, status)}"),
        ("Started", str(journal.get("start", ""))),
        ("Ended", str(journal.get("end", ""))),
        ("Duration", f"{float(journal.get('duration') or 0):.1f} s"),
        ("Experiment file", str(journal.get("source", ""))),
    ]
    if journal.get("error"):
        summary.rows.append(("Why", str(journal["error"])))
    sections = [summary]
    if with_figure:  # the picture first: it is what a reader looks for
        sections.append(
            Section(
                "Over time",
                ["Latency percentiles, throughput and errors per second; fault windows shaded."],
                figure=True,
            )
        )
    experiment = journal.get("experiment") or {}
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    states = journal.get("steady_states") or {}
    for key in ("before", "after"):
        state = states.get(key)
        title = f"Steady state {key} the method: {hypothesis.get('title', '')}"
        if state is None:
            sections.append(Section(title, ["Not checked."]))
            continue
        met = "met" if state.get("steady_state_met") else "NOT met"
        section = Section(title, [f"The hypothesis was **{met}**."], _ACTIVITY_HEADERS)
        section.rows = _activity_rows(state.get("probes", []))
        sections.append(section)
    method = Section(
        "Method", headers=_ACTIVITY_HEADERS, rows=_activity_rows(journal.get("run", []))
    )
    sections.append(method)
    rollbacks = journal.get("rollbacks", [])
    sections.append(
        Section(
            "Rollbacks",
            [] if rollbacks else ["No rollbacks were declared."],
            _ACTIVITY_HEADERS,
            _activity_rows(rollbacks),
        )
    )
    windows = journal.get("fault_windows", [])
    faults = Section("Fault windows", headers=("fault", "kind", "from (s)", "to (s)", "lasted (s)"))
    for w in windows:
        end = w.get("end")
        lasted = "" if end is None else f"{float(end) - float(w.get('start', 0)):.3f}"
        faults.rows.append(
            (str(w.get("label")), str(w.get("kind")), _fmt_s(w.get("start")), _fmt_s(end), lasted)
        )
    if not windows:
        faults.paragraphs.append("No fault was injected.")
    sections.append(faults)
    load = Section(
        "Load",
        headers=("load", "requests", "errors", "error rate", "ok/s", "p50", "p90", "p99", "max"),
    )
    for run in journal.get("load", []):
        s = run.get("summary", {})
        load.rows.append(
            (
                f"{run.get('name')} ({run.get('rate')} req/s for {run.get('duration')} s)",
                str(s.get("requests", 0)),
                str(s.get("errors", 0)),
                f"{100 * float(s.get('error_rate', 0)):.2f} %",
                f"{float(s.get('throughput_rps', 0)):.1f}",
                *(_ms(s.get(k)) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
            )
        )
    if not load.rows:
        load.paragraphs.append("No load was generated.")
    sections.append(load)
    timeline = Section("Timeline", headers=("t (s)", "at", "event"))
    for event in journal.get("events", []):
        timeline.rows.append((_fmt_s(event.get("t")), str(event.get("at")), str(event["message"])))
    sections.append(timeline)
    return sections


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(journal: dict[str, Any], sections: list[Section], figure: str | None) -> str:
    lines = [f"# Experiment report: {journal.get('title', '')}", ""]
    if journal.get("description"):
        lines += [str(journal["description"]), ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        if section.figure and figure:
            lines += [f"![latency, throughput and errors over time]({figure})", ""]
        if section.rows:
            lines.append("| " + " | ".join(section.headers) + " |")
            lines.append("|" + "---|" * len(section.headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in section.rows]
            lines.append("")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ddd;
padding-bottom:.2em;margin-top:1.6em}table{border-collapse:collapse;font-size:.85em;width:100%}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}img{max-width:100%;border:1px solid #eee}
.completed{color:#1a7f37}.deviated,.failed{color:#cf222e}.interrupted{color:#9a6700}
"""


def to_html(journal: dict[str, Any], sections: list[Section], png: bytes | None) -> str:
    esc = html.escape
    status = outcome(journal)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(str(journal.get('title', 'experiment')))} — seawall report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Experiment report: {esc(str(journal.get('title', '')))}</h1>",
        f'<p class="{esc(status)}"><strong>{esc(status.upper())}</strong></p>',
    ]
    if journal.get("description"):
        parts.append(f"<p>{esc(str(journal['description']))}</p>")
    for section in sections:
        parts.append(f"<h2>{esc(section.title)}</h2>")
        for paragraph in section.paragraphs:
            text = esc(paragraph).replace("**", "")
            parts.append(f"<p>{text}</p>")
        if section.figure and png:
            data = base64.b64encode(png).decode("ascii")
            parts.append(
                f'<img id="figure" alt="latency, throughput and errors over time" '
                f'src="data:image/png;base64,{data}">'
            )
        if section.rows:
            head = "".join(f"<th>{esc(h)}</th>" for h in section.headers)
            thead = f"<thead><tr>{head}</tr></thead>" if any(section.headers) else ""
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                for row in section.rows
            )
            parts.append(f"<table>{thead}<tbody>{body}</tbody></table>")
    parts.append("<p><small>Written by seawall from the run's journal.</small></p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(journal: dict[str, Any], directory: Path, *, figure: bool = True) -> list[Path]:
    """Write ``report.md``, ``report.png`` and ``report.html`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    png = None
    written = []
    if figure:
        from seawall.experiment._plots import render_figure

        png = render_figure(journal)
        (directory / "report.png").write_bytes(png)
        written.append(directory / "report.png")
    sections = report_sections(journal, with_figure=png is not None)
    md = directory / "report.md"
    md.write_text(to_markdown(journal, sections, "report.png" if png else None), encoding="utf-8")
    page = directory / "report.html"
    page.write_text(to_html(journal, sections, png), encoding="utf-8")
    return [md, page, *written]
