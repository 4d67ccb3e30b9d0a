"""A scenario's report: the table as text, and one self-contained HTML page with plots.

The page follows the game day's: per scenario a figure (success % as the callers saw
it, and the load on the deciding service, per virtual second, naive and seawall on one
time axis with the fault window shaded), the side-by-side table and the verdict. The
PNG is embedded as base64, so the page is one file that opens anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seawall.sim._scenarios import SCENARIOS, Outcome

__all__ = ["text_table", "write_report"]

COLOURS = {"naive": "#d62728", "seawall": "#1f77b4"}


def text_table(outcome: Outcome) -> str:
    """The naive vs seawall table in Markdown, with the run's figures and its verdict."""
    rows = outcome.table()
    head = ("metric", "naive", "seawall")
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(3)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "| " + " | ".join((first, *rest)) + " |"

    out = [
        f"{outcome.title}: {outcome.clients:,} clients, seed {outcome.seed}, "
        f"{outcome.until:g} virtual seconds",
        "",
        line(head),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *(line(r) for r in rows),
        "",
        f"{'seawall wins' if outcome.won else 'NOT a seawall win'}: {outcome.why}",
    ]
    for mode, run in outcome.runs.items():
        if run.events:
            out.append(
                f"{mode}: {run.wall:.1f} s wall, {run.events:,} events "
                f"({run.events / run.wall:,.0f}/s), {run.requests:,} requests "
                f"({run.requests / run.wall:,.0f}/s)"
            )
        else:
            out.append(f"{mode}: {run.wall:.1f} s wall")
    return "\n".join(out)


def _figure(outcome: Outcome, parameter: str | None = None) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), dpi=100)
    ok_ax, load_ax = fig.subplots(1, 2)
    for mode, run in outcome.runs.items():
        seconds = [row[0] + 0.5 for row in run.series]
        success = [
            100.0 * ok / (ok + bad) if ok + bad else float("nan") for *_, ok, bad in run.series
        ]
        ok_ax.plot(seconds, success, color=COLOURS[mode], label=mode)
        load_ax.plot(
            [i + 0.5 for i in range(len(run.load))], run.load, color=COLOURS[mode], label=mode
        )
    deciding = SCENARIOS[outcome.scenario].deciding
    panels = (
        (ok_ax, "success % of answered requests per second"),
        (load_ax, f"requests per second reaching {deciding}"),
    )
    for ax, label in panels:
        ax.axvspan(*outcome.window, color="#ff7f0e", alpha=0.2, label="fault")
        ax.set_xlabel("virtual seconds")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    ok_ax.set_ylim(-5, 105)
    ok_ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(f"{outcome.title}, {outcome.clients:,} clients", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _page(title: str, body: list[str]) -> str:
    return "\n".join(
        [
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title><style>body{font-family:sans-serif;max-width:980px;margin:2em auto;"
            "color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid "
            "#ccc;padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:"
            "left}.win{color:#2ca02c}.loss{color:#d62728}img{max-width:100%}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>",
            *body,
            "</body></html>",
        ]
    )


def outcome_html(outcome: Outcome) -> list[str]:
    """The HTML of one outcome: story, plot (when it has time series), table, verdict."""
    scenario = SCENARIOS[outcome.scenario]
    rows = "".join(
        f"<tr><td>{html.escape(m)}</td><td>{a}</td><td>{b}</td></tr>" for m, a, b in outcome.table()
    )
    verdict = "seawall wins" if outcome.won else "NOT a seawall win"
    parts = [
        f"<h2>{html.escape(outcome.title)}</h2>",
        f"<p>{html.escape(scenario.story)} {outcome.clients:,} clients, seed {outcome.seed}, "
        f"{outcome.until:g} virtual seconds.</p>",
    ]
    if any(run.series for run in outcome.runs.values()):
        png = base64.b64encode(_figure(outcome)).decode("ascii")
        parts.append(f"<img alt='{outcome.scenario}' src='data:image/png;base64,{png}'>")
    parts += [
        f"<table><tr><th>metric</th><th>naive</th><th>seawall</th></tr>{rows}</table>",
        f"<p class='{'win' if outcome.won else 'loss'}'><b>{verdict}</b>: "
        f"{html.escape(outcome.why)}</p>",
        f"<details><summary>table as text</summary><pre>{html.escape(text_table(outcome))}"
        "</pre></details>",
    ]
    return parts


def write_report(path: Path, outcome: Outcome) -> list[Path]:
    """Write the HTML page to ``path`` and the JSON results beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(f"seawall sim: {outcome.title}", outcome_html(outcome)))
    json_path = path.with_suffix(".json")
    json_path.write_text(json.dumps(outcome.to_json(), indent=1) + "\n")
    return [path, json_path]


def write_sweep_report(
    path: Path, parameter: str, values: Sequence[Any], outcomes: Sequence[Outcome]
) -> list[Path]:
    """A sweep's page: each metric of both configurations plotted against the parameter."""
    from matplotlib.figure import Figure

    first = outcomes[0]
    keys = list(first.runs["naive"].metrics)
    fig = Figure(figsize=(9, 2.8 * ((len(keys) + 1) // 2)), dpi=100)
    axes = fig.subplots((len(keys) + 1) // 2, 2, squeeze=False).ravel()
    xs = [float(v) for v in values]
    for ax, key in zip(axes, keys, strict=False):
        for mode in ("naive", "seawall"):
            ys = [o.runs[mode].metrics[key] for o in outcomes]
            ax.plot(xs, ys, marker="o", color=COLOURS[mode], label=mode)
        ax.set_title(first.labels.get(key, key), fontsize=9)
        ax.set_xlabel(parameter)
        ax.grid(alpha=0.3)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{first.title}: sweep of {parameter}", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    body = [f"<img alt='sweep' src='data:image/png;base64,{png}'>"]
    for value, outcome in zip(values, outcomes, strict=True):
        body.append(f"<h3>{html.escape(parameter)} = {html.escape(str(value))}</h3>")
        body += outcome_html(outcome)[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(f"seawall sim sweep: {first.title}, {parameter}", body))
    json_path = path.with_suffix(".json")
    json_path.write_text(
        json.dumps(
            {
                "parameter": parameter,
                "values": list(values),
                "runs": [o.to_json() for o in outcomes],
            },
            indent=1,
        )
        + "\n"
    )
    return [path, json_path]
