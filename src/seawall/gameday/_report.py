"""The game day's report: tables in Markdown, and one self-contained HTML page.

Per scenario, a figure of success % and p99 latency per second for naive and seawall on
one time axis, the fault window shaded, then the side-by-side table and the verdict, and
the seawall gateway's live dashboard as it stood when its run ended (the same tiles, drawn
by the same page, from the view embedded in the report). The PNGs are embedded as base64
and the dashboard as an inline frame, so the page is one file that opens anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from seawall.gameday._measure import METRICS, Run, value
from seawall.gameday._operator import Check
from seawall.metrics._dashboard import page as dashboard_page

__all__ = ["ScenarioResult", "table_rows", "write_gameday_report"]

COLOURS = {"naive": "#d62728", "seawall": "#1f77b4"}
ROWS = ("success", "p50_ms", "p99", "goodput", "amplification", "duplicates", "recovery")


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    title: str
    mode: str
    story: str
    window: tuple[float, float]
    runs: dict[str, Run]
    won: bool
    why: str
    deciding: tuple[str, ...]
    # The seawall gateway's dashboard view when its run ended (None if it did not answer).
    dashboard: dict[str, Any] | None = None


def _cell(run: Run, metric: str) -> str:
    v = value(run, metric)
    if v == float("inf"):
        return "not recovered" if metric == "recovery" else "-"
    if metric == "success":
        return f"{v:.1f}"
    if metric in ("p50_ms", "p99"):
        return f"{v:.0f}"
    if metric in ("amplification",):
        return f"{v:.2f}x"
    if metric in ("duplicates", "catalog_calls", "catalog_peak"):
        return f"{int(v)}"
    return f"{v:g}"


def table_rows(result: ScenarioResult) -> list[tuple[str, str, str]]:
    rows = list(ROWS)
    for metric in result.deciding:
        if metric not in rows:
            rows.append(metric)
    naive, ours = result.runs["naive"], result.runs["seawall"]
    return [
        (METRICS[m][0] + (" *" if m in result.deciding else ""), _cell(naive, m), _cell(ours, m))
        for m in rows
    ]


def _figure(result: ScenarioResult) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), dpi=100)
    ok_ax, p99_ax = fig.subplots(1, 2)
    for gateway, run in result.runs.items():
        seconds = [s + 0.5 for s, *_ in run.series]
        success = [100.0 * ok / sent if sent else 100.0 for _, sent, ok, _ in run.series]
        p99 = [p if p is not None else float("nan") for *_, p in run.series]
        ok_ax.plot(seconds, success, color=COLOURS[gateway], marker="o", label=gateway)
        p99_ax.plot(seconds, p99, color=COLOURS[gateway], marker="o", label=gateway)
    panels = ((ok_ax, "success % per second"), (p99_ax, "p99 ms of answered requests"))
    for ax, label in panels:
        ax.axvspan(*result.window, color="#ff7f0e", alpha=0.2, label="fault")
        ax.set_xlabel("seconds")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    ok_ax.set_ylim(-5, 105)
    ok_ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(result.title, fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _markdown(
    results: Sequence[ScenarioResult], checks: Sequence[Check], meta: dict[str, Any]
) -> str:
    out = [
        "# seawall game day",
        "",
        f"seed {meta['seed']}, {meta['duration']:g} s per run, "
        f"{meta['rate']:g} requests/s, {meta['budget_ms']} ms budget per request",
        "",
    ]
    for r in results:
        out += [f"## {r.title}", "", r.story, "", "| metric | naive | seawall |", "|---|---|---|"]
        out += [f"| {m} | {a} | {b} |" for m, a, b in table_rows(r)]
        out += [
            "",
            f"**Verdict: {'seawall wins' if r.won else 'NOT a seawall win'}** — {r.why}",
            "",
        ]
    if checks:
        out += [
            "## Operator error: checks before deploy",
            "",
            "| check | naive errors / warnings | seawall errors / warnings | naive rules |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {c.name} | {c.naive_errors} / {c.naive_warnings} | "
            f"{c.seawall_errors} / {c.seawall_warnings} | {', '.join(c.naive_rules)} |"
            for c in checks
        ]
        out += ["", *(f"- {c.name}: {c.detail}" for c in checks if c.detail)]
    return "\n".join(out) + "\n"


def _html(results: Sequence[ScenarioResult], checks: Sequence[Check], markdown: str) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>seawall game day</title>",
        "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}"
        ".win{color:#2ca02c}.loss{color:#d62728}img{max-width:100%}</style></head><body>",
        "<h1>seawall game day</h1>",
    ]
    for r in results:
        png = base64.b64encode(_figure(r)).decode("ascii")
        rows = "".join(
            f"<tr><td>{html.escape(m)}</td><td>{a}</td><td>{b}</td></tr>"
            for m, a, b in table_rows(r)
        )
        verdict = "seawall wins" if r.won else "NOT a seawall win"
        parts += [
            f"<h2>{html.escape(r.title)}</h2><p>{html.escape(r.story)}</p>",
            f"<img alt='{html.escape(r.name)}' src='data:image/png;base64,{png}'>",
            f"<table><tr><th>metric (* decides)</th><th>naive</th><th>seawall</th></tr>{rows}"
            "</table>",
            f"<p class='{'win' if r.won else 'loss'}'><b>{verdict}</b> — {html.escape(r.why)}</p>",
        ]
        if r.dashboard is not None:
            frame = html.escape(dashboard_page(None, r.dashboard), quote=True)
            parts.append(
                "<p>The seawall gateway's dashboard when its run ended (last 10 s counts,"
                " two-minute sparklines):</p>"
                f"<iframe class='dashboard' title='{html.escape(r.name)} dashboard'"
                " style='width:100%;height:440px;border:1px solid #ccc'"
                f" srcdoc='{frame}'></iframe>"
            )
    if checks:
        rows = "".join(
            f"<tr><td>{html.escape(c.name)}</td><td>{c.naive_errors} / {c.naive_warnings}</td>"
            f"<td>{c.seawall_errors} / {c.seawall_warnings}</td>"
            f"<td>{html.escape(', '.join(c.naive_rules))}</td></tr>"
            for c in checks
        )
        parts += [
            "<h2>Operator error: checks before deploy</h2><table><tr><th>check</th>"
            "<th>naive errors / warnings</th><th>seawall errors / warnings</th>"
            f"<th>naive rules</th></tr>{rows}</table>",
            "<ul>"
            + "".join(
                f"<li>{html.escape(c.name)}: {html.escape(c.detail)}</li>"
                for c in checks
                if c.detail
            )
            + "</ul>",
        ]
    parts.append(
        f"<details><summary>Markdown</summary><pre>{html.escape(markdown)}</pre>"
        "</details></body></html>"
    )
    return "\n".join(parts)


def write_gameday_report(
    path: Path,
    results: Sequence[ScenarioResult],
    checks: Sequence[Check],
    meta: dict[str, Any],
    split_brain: Any = None,
) -> list[Path]:
    """Write ``path`` (HTML) and, beside it, the Markdown and the JSON results."""
    path.parent.mkdir(parents=True, exist_ok=True)
    markdown = _markdown(results, checks, meta)
    if split_brain is not None:
        markdown += "\n## Split brain: two leaders after a partition\n\n" + split_brain.table()
        markdown += "\n"
    md_path, json_path = path.with_suffix(".md"), path.with_suffix(".json")
    md_path.write_text(markdown)
    json_path.write_text(
        json.dumps(
            {
                "meta": meta,
                "scenarios": [
                    {
                        "name": r.name,
                        "title": r.title,
                        "mode": r.mode,
                        "won": r.won,
                        "why": r.why,
                        "window": r.window,
                        "runs": {g: run.to_json() for g, run in r.runs.items()},
                        "dashboard": r.dashboard,
                    }
                    for r in results
                ],
                "operator_checks": [c.__dict__ for c in checks],
                "split_brain": None
                if split_brain is None
                else [asdict(row) for row in split_brain.rows],
            },
            indent=2,
        )
    )
    page = _html(results, checks, markdown)
    if split_brain is not None:
        table = html.escape(split_brain.table())
        page = page.replace(
            "<details>",
            f"<h2>Split brain: two leaders after a partition</h2><pre>{table}</pre><details>",
            1,
        )
    path.write_text(page)
    return [path, md_path, json_path]
