"""The report's figure: latency percentiles, throughput, errors and activities over time.

Every panel shares one x axis - seconds since the run started - and shades each fault
window, so "p99 rose while the latency toxic was on" is visible at a glance. Drawn with
matplotlib's object API on the Agg canvas: no pyplot global state, no display needed,
safe from a worker thread.
"""

from __future__ import annotations

import io
from typing import Any

__all__ = ["render_figure"]

_FAULT_COLOURS = {
    "proxy-toxic": "#d62728",
    "proxy-disable": "#8c564b",
    "kill-process": "#555555",
    "fill-disk": "#bcbd22",
    "cpu-burn": "#e377c2",
}
_FAULT_COLOUR = "#d62728"
_PHASE_COLOURS = {
    "before": "#2ca02c",
    "method": "#1f77b4",
    "after": "#9467bd",
    "rollback": "#ff7f0e",
}
_STATUS_HATCH = {"failed": "xx", "interrupted": "//"}


def _value(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _end_of(journal: dict[str, Any]) -> float:
    ends = [0.0]
    for window in journal.get("fault_windows", []):
        ends.append(float(window.get("end") or window.get("start") or 0.0))
    for run in journal.get("load", []):
        ends.append(float(run.get("start", 0.0)) + len(run.get("series", [])))
    for event in journal.get("events", []):
        ends.append(float(event.get("t", 0.0)))
    return max(ends) or 1.0


def _shade(ax: Any, windows: list[dict[str, Any]], end: float, label: bool) -> None:
    for i, window in enumerate(windows):
        start = float(window.get("start") or 0.0)
        stop = window.get("end")
        stop = end if stop is None else float(stop)
        colour = _FAULT_COLOURS.get(str(window.get("kind")), _FAULT_COLOUR)
        right = max(stop, start + end / 400)
        ax.axvspan(start, right, color=colour, alpha=0.12, lw=0, zorder=0)
        if label:
            ax.annotate(
                str(window.get("label", "fault")),
                xy=(start, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -4 - 11 * (i % 3)),
                textcoords="offset points",
                va="top",
                fontsize=8,
                color=colour,
            )


def _activities(journal: dict[str, Any]) -> list[dict[str, Any]]:
    states = journal.get("steady_states") or {}
    found: list[dict[str, Any]] = []
    for key in ("before", "after"):
        found += (states.get(key) or {}).get("probes", [])
    found += journal.get("run", []) + journal.get("rollbacks", [])
    return [a for a in found if isinstance(a, dict) and "t_start" in a]


def _timeline(ax: Any, journal: dict[str, Any]) -> None:
    activities = _activities(journal)
    names: list[str] = []
    for activity in activities:
        label = f"{activity.get('name', '?')}"
        if label not in names:
            names.append(label)
    for activity in activities:
        row = names.index(str(activity.get("name", "?")))
        start = float(activity["t_start"])
        width = max(float(activity.get("t_end", start)) - start, 0.02)
        ax.barh(
            row,
            width,
            left=start,
            height=0.6,
            color=_PHASE_COLOURS.get(str(activity.get("phase")), "#7f7f7f"),
            hatch=_STATUS_HATCH.get(str(activity.get("status")), ""),
            edgecolor="black",
            linewidth=0.4,
        )
    ax.set_yticks(range(len(names)), [n[:28] for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_ylabel("activities")
    handles = [_patch(colour, phase) for phase, colour in _PHASE_COLOURS.items() if activities]
    kinds = sorted({str(w.get("kind")) for w in journal.get("fault_windows", [])})
    handles += [_patch(_FAULT_COLOURS.get(k, _FAULT_COLOUR), k, alpha=0.3) for k in kinds]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.35),
            fontsize=8,
            ncols=len(handles),
            frameon=False,
        )


def _patch(colour: str, label: str, alpha: float = 1.0) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, alpha=alpha, label=label)


def render_figure(journal: dict[str, Any]) -> bytes:
    """The report figure of ``journal`` as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    loads = [run for run in journal.get("load", []) if run.get("series")]
    windows = [w for w in journal.get("fault_windows", []) if isinstance(w, dict)]
    end = _end_of(journal)
    rows = 4 if loads else 1
    ratios = [3, 2, 2, 2] if loads else [1]
    figure = Figure(figsize=(11, 2.3 * sum(ratios) / 2 + 1), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, 1, sharex=True, height_ratios=ratios, squeeze=False)[:, 0]
    figure.suptitle(str(journal.get("title", "experiment")), fontsize=12)
    if loads:
        latency, throughput, errors = axes[0], axes[1], axes[2]
        for run in loads:
            offset = float(run.get("start", 0.0)) + 0.5
            series = run["series"]
            xs = [offset + float(p["t"]) for p in series]
            name = str(run.get("name", "load"))[:40]
            prefix = f"{name} " if len(loads) > 1 else ""
            for key, style in (("p50_ms", "-"), ("p90_ms", "--"), ("p99_ms", "-")):
                if not any(key in p for p in series):
                    continue
                ys = [_value(p.get(key)) for p in series]
                latency.plot(xs, ys, style, marker=".", label=f"{prefix}{key[:-3]}")
            throughput.plot(xs, [p.get("ok", 0) for p in series], marker=".", label=f"{name} ok/s")
            errors.bar(
                xs, [p.get("errors", 0) for p in series], width=0.8, color="#cf222e", label=name
            )
        latency.set_ylabel("latency (ms)")
        latency.legend(loc="upper right", fontsize=8)
        latency.set_ylim(bottom=0)
        throughput.set_ylabel("throughput (ok/s)")
        throughput.set_ylim(bottom=0)
        errors.set_ylabel("errors / s")
        peak = max((p.get("errors", 0) for run in loads for p in run["series"]), default=0)
        errors.set_ylim(0, max(1, peak * 1.15))
        for ax in (latency, throughput, errors):
            ax.grid(True, alpha=0.3)
    _timeline(axes[-1], journal)
    for i, ax in enumerate(axes):
        _shade(ax, windows, end, label=i == 0)
    axes[-1].set_xlim(0, end * 1.02)
    axes[-1].set_xlabel("seconds since the experiment started")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
