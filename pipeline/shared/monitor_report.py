"""The drift report of `pipeline monitor`, presented: one self-contained HTML page, and the
Markdown summary for $GITHUB_STEP_SUMMARY.

The report is the plain dict `pipeline monitor` builds (project, environment, endpoint,
window, verdict, requests, rows, refused, min_rows, columns, checks). Here it is only
presented: nothing is computed or judged again, nothing is read or fetched. Columns whose
verdict is "drift" come first everywhere, then the others in the report's order. A value
that could not be computed (None) shows as "-".

The page has inline CSS and inline SVG only: no script, no external URL, and a
Content-Security-Policy that would refuse both. Column names and category values come from
users' data and from whoever sends requests to the endpoint, so every string of the report
is escaped (html.escape), and the page is bounded: at most MAX_CATEGORIES categories are
drawn per column (the rest summed as "other (N values)"), category labels are cut to
MAX_LABEL characters, and the page says so.

Must not import any stage, AWS or the CLI.
"""

from __future__ import annotations

import heapq
import html as _html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_CATEGORIES = 50  # categories drawn per column; more are summed as "other (N values)"
MAX_LABEL = 24  # characters of a category shown under its bars
MAX_TOOLTIP = 200  # characters of a category in its bars' tooltip
MAX_NUMBER_LABELS = 12  # bin edges labelled on a number chart's x axis
DRIFT = "drift"
STATISTICS = {
    "psi": "population stability index of the live distribution against the baseline",
    "ks": "Kolmogorov-Smirnov statistic: the largest gap between the two cumulative distributions",
    "unseen": "share of live rows whose value the baseline never saw",
    "refused_share": "share of requests the endpoint refused",
}
BASELINE_COLOUR, LIVE_COLOUR, UNSEEN_COLOUR = "#4e79a7", "#f28e2b", "#c0392b"


def ordered(columns: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Drifted columns first, then the others, each group in the report's order."""
    return sorted(columns, key=lambda c: c.get("verdict") != DRIFT)


def value_text(value: object) -> str:
    """A statistic's value or threshold as shown: "-" when it could not be computed."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.4g}"
    return str(value)


def _esc(value: object) -> str:
    return _html.escape(value_text(value), quote=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


# --- the distributions drawn ------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """One group of two bars: a bin or a category."""

    label: str  # shown under the bars (cut)
    title: str  # the tooltip (cut to MAX_TOOLTIP)
    baseline: float  # count
    live: float
    unseen: bool = False  # a category the baseline never saw
    other: bool = False  # the categories not drawn, summed


@dataclass(frozen=True)
class Distribution:
    kind: str  # "bins" or "categories" or "none"
    slots: tuple[Slot, ...]
    edges: tuple[float, ...] = ()  # bins: len(slots) + 1 when known
    hidden: int = 0  # categories summed into "other"


def _counts(side: Mapping[str, Any] | None, key: str) -> Any:
    return (side or {}).get(key)


def distribution(column: Mapping[str, Any]) -> Distribution:
    """The column's baseline and live distributions, as slots to draw."""
    baseline, live = column.get("baseline") or {}, column.get("live") or {}
    if _counts(baseline, "counts") is not None or _counts(live, "counts") is not None:
        return _bins(baseline, live)
    if _counts(baseline, "categories") is not None or _counts(live, "categories") is not None:
        return _categories(
            dict(_counts(baseline, "categories") or {}), dict(_counts(live, "categories") or {})
        )
    return Distribution("none", ())


def _bins(baseline: Mapping[str, Any], live: Mapping[str, Any]) -> Distribution:
    base_counts = [float(c) for c in baseline.get("counts") or []]
    live_counts = [float(c) for c in live.get("counts") or []]
    n = max(len(base_counts), len(live_counts))
    base_counts += [0.0] * (n - len(base_counts))
    live_counts += [0.0] * (n - len(live_counts))
    raw = baseline.get("edges") or live.get("edges") or []
    edges = tuple(float(e) for e in raw) if len(raw) == n + 1 else ()
    slots = []
    for i in range(n):
        span = f"[{value_text(edges[i])}, {value_text(edges[i + 1])})" if edges else f"bin {i + 1}"
        slots.append(Slot(span, span, base_counts[i], live_counts[i]))
    return Distribution("bins", tuple(slots), edges)


def _categories(baseline: Mapping[Any, Any], live: Mapping[Any, Any]) -> Distribution:
    base_total = sum(float(v) for v in baseline.values()) or 1.0
    live_total = sum(float(v) for v in live.values()) or 1.0
    names = set(baseline) | set(live)

    def share(name: Any) -> tuple[float, float]:
        return float(baseline.get(name, 0)) / base_total, float(live.get(name, 0)) / live_total

    # Which to draw: the categories that weigh most on either side (a new value taking a
    # third of the traffic is drawn even when the baseline has hundreds of values).
    def weight(name: Any) -> tuple[float, str]:
        return (-max(share(name)), str(name))

    if len(names) > MAX_CATEGORIES:
        drawn = heapq.nsmallest(MAX_CATEGORIES - 1, names, key=weight)
    else:
        drawn = list(names)
    kept = set(drawn)
    hidden = [n for n in names if n not in kept]

    # How to draw them: by baseline share, then the unseen ones by live share.
    def position(name: Any) -> tuple[int, float, str]:
        base, now = share(name)
        seen = float(baseline.get(name, 0)) > 0
        return (0, -base, str(name)) if seen else (1, -now, str(name))

    slots = []
    for name in sorted(drawn, key=position):
        text = str(name)
        unseen = float(baseline.get(name, 0)) <= 0
        slots.append(
            Slot(
                _cut(text, MAX_LABEL),
                _cut(text, MAX_TOOLTIP),
                float(baseline.get(name, 0)),
                float(live.get(name, 0)),
                unseen=unseen,
            )
        )
    if hidden:
        label = f"other ({len(hidden)} values)"
        slots.append(
            Slot(
                label,
                label,
                sum(float(baseline.get(n, 0)) for n in hidden),
                sum(float(live.get(n, 0)) for n in hidden),
                other=True,
            )
        )
    return Distribution("categories", tuple(slots), hidden=len(hidden))


# --- the chart ---------------------------------------------------------------------------------
LEFT, RIGHT, TOP = 64, 16, 40
PLOT_HEIGHT, PLOT_WIDTH = 200, 640.0
LEGEND_CHARACTER = 7.0  # px a legend character takes, at most (11px sans-serif)
LABEL_CHARACTER = 4.6  # px a character of a label at 45 degrees reaches down (and across)


def _legend(slots: Sequence[Slot]) -> list[tuple[str, str]]:
    rows = (int(sum(s.baseline for s in slots)), int(sum(s.live for s in slots)))
    entries = [("baseline", f"baseline ({rows[0]} rows)"), ("live", f"live ({rows[1]} rows)")]
    if any(s.unseen for s in slots):
        entries.append(("unseen", "* not in the baseline"))
    return entries


def _nice_top(largest: float) -> float:
    for top in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.8, 1.0):
        if largest <= top + 1e-12:
            return top
    return 1.0


def chart(name: str, column: Mapping[str, Any]) -> str:
    """One inline SVG: the baseline's and the live shares per bin or category, on the same
    axes (shares, so samples of different sizes compare), with a legend and axis labels."""
    dist = distribution(column)
    slots = dist.slots
    base_shares = _shares([s.baseline for s in slots])
    live_shares = _shares([s.live for s in slots])
    categories = dist.kind == "categories"
    count = max(len(slots), 1)
    left = float(LEFT)
    if categories:  # the labels stand under the bars, rising to the right at 45 degrees
        slot_width = max(22.0, min(80.0, PLOT_WIDTH / count))
        longest = max([len(s.label) + (2 if s.unseen else 0) for s in slots] + [1])
        reach = LABEL_CHARACTER * longest  # how far a label reaches down and to the left
        bottom = 16 + reach + 28
        left = max(left, reach - slot_width / 2 + 8)
    else:
        slot_width = max(16.0, PLOT_WIDTH / count)
        bottom = 56.0
    plot_width = slot_width * count
    legend_end = left + LEGEND_CHARACTER * sum(len(t) + 6 for _, t in _legend(slots))
    width = max(left + plot_width + RIGHT, legend_end)
    height = TOP + PLOT_HEIGHT + bottom
    top = _nice_top(max([*base_shares, *live_shares, 0.0]))

    def y(share: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - share / top)

    label = f"Distribution of {name}: baseline and live shares per " + (
        "category" if categories else "bin"
    )
    out = [
        f'<svg class="chart" data-column="{_html.escape(name, quote=True)}" '
        f'data-kind="{dist.kind}" role="img" aria-label="{_html.escape(label, quote=True)}" '
        f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}">',
        f"<title>{_html.escape(label)}</title>",
    ]
    x = left
    for series, text in _legend(slots):
        colour = {"baseline": BASELINE_COLOUR, "live": LIVE_COLOUR}.get(series)
        swatch = (
            f'<rect x="{x:.0f}" y="8" width="12" height="12" fill="{colour}"/>' if colour else ""
        )
        fill = "" if colour else f' fill="{UNSEEN_COLOUR}"'
        out.append(
            f'<g class="legend" data-series="{series}">{swatch}'
            f'<text x="{x + (16 if colour else 0):.0f}" y="18"{fill}>'
            f"{_html.escape(text)}</text></g>"
        )
        x += LEGEND_CHARACTER * (len(text) + 6)
    # axes and grid
    for i in range(5):
        share = top * i / 4
        ty = y(share)
        out.append(
            f'<line class="grid" x1="{left:.0f}" x2="{left + plot_width:.0f}" y1="{ty:.1f}" '
            f'y2="{ty:.1f}"/><text class="tick" x="{left - 6:.0f}" y="{ty + 4:.1f}" '
            f'text-anchor="end">{_percent(share)}</text>'
        )
    out.append(
        f'<text class="axis-label" transform="translate(14 {TOP + PLOT_HEIGHT / 2:.0f}) '
        f'rotate(-90)" text-anchor="middle">share of rows</text>'
    )
    x_label = (
        f"{name}: categories by baseline share"
        if categories
        else f"{name}: bins (the baseline's edges)"
        if slots
        else f"{name}: no distribution in the report"
    )
    out.append(
        f'<text class="axis-label" x="{left + plot_width / 2:.0f}" y="{height - 8:.0f}" '
        f'text-anchor="middle">{_html.escape(x_label)}</text>'
    )
    # bars
    bar = slot_width * 0.38
    for i, slot in enumerate(slots):
        x0 = left + i * slot_width + (slot_width - 2 * bar) / 2
        tip = (
            f"{slot.title}: baseline {_percent(base_shares[i])} ({int(slot.baseline)}), "
            f"live {_percent(live_shares[i])} ({int(slot.live)})"
            + (" - not in the baseline" if slot.unseen else "")
        )
        classes = "slot" + (" unseen" if slot.unseen else "") + (" other" if slot.other else "")
        out.append(f'<g class="{classes}"><title>{_html.escape(tip)}</title>')
        for j, (series, share, colour) in enumerate(
            (("baseline", base_shares[i], BASELINE_COLOUR), ("live", live_shares[i], LIVE_COLOUR))
        ):
            top_y = y(share)
            out.append(
                f'<rect class="bar {series}" x="{x0 + j * bar:.1f}" y="{top_y:.1f}" '
                f'width="{bar:.1f}" height="{TOP + PLOT_HEIGHT - top_y:.1f}" fill="{colour}"/>'
            )
        if categories:
            cx, cy = left + (i + 0.5) * slot_width, TOP + PLOT_HEIGHT + 10
            fill = f' fill="{UNSEEN_COLOUR}"' if slot.unseen else ""
            mark = "* " if slot.unseen else ""
            out.append(
                f'<text class="category" x="{cx:.1f}" y="{cy:.0f}" text-anchor="end"{fill} '
                f'transform="rotate(-45 {cx:.1f} {cy:.0f})">{_html.escape(mark + slot.label)}'
                "</text>"
            )
        out.append("</g>")
    totals = (("baseline", sum(base_shares)), ("live", sum(live_shares)))
    empty = [side for side, total in totals if slots and not total]
    if empty:  # bars of height 0 would look like a distribution
        out.append(
            f'<text class="empty" x="{left + plot_width / 2:.0f}" y="{TOP + PLOT_HEIGHT / 2:.0f}" '
            f'text-anchor="middle">no {" and no ".join(empty)} rows</text>'
        )
    if dist.kind == "bins":
        edges = dist.edges
        step = max(1, math.ceil(len(edges) / MAX_NUMBER_LABELS))
        for i in range(0, len(edges), step):
            ex = left + i * slot_width
            out.append(
                f'<text class="tick" x="{ex:.1f}" y="{TOP + PLOT_HEIGHT + 16}" '
                f'text-anchor="middle">{_esc(edges[i])}</text>'
            )
    out.append(
        f'<line class="axis" x1="{left:.0f}" x2="{left + plot_width:.0f}" '
        f'y1="{TOP + PLOT_HEIGHT}" y2="{TOP + PLOT_HEIGHT}"/>'
    )
    out.append("</svg>")
    return "".join(out)


# --- the page ----------------------------------------------------------------------------------
CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
  max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em;
  overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .25em .7em; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { display: inline-block; padding: 0 .5em; border-radius: .3em; font-weight: 600; }
.verdict-ok { background: #e3f4e1; color: #1e6b1e; }
.verdict-drift { background: #fbe3e1; color: #a12a1f; }
.verdict-none { background: #eee; color: #555; }
.kind { color: #666; font-size: .9em; }
figure { margin: .5em 0; overflow-x: auto; }
svg.chart { display: block; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #333; }
svg.chart text.axis-label { font-size: 12px; fill: #555; }
svg.chart line.grid { stroke: #eee; }
svg.chart line.axis { stroke: #888; }
.note { color: #555; font-size: .9em; }
"""
# No script, no fetch of any kind: only the inline style and inline SVG may exist.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _verdict(value: object) -> str:
    text = value_text(value)
    kind = {"ok": "ok", DRIFT: "drift"}.get(text, "none")
    return f'<span class="verdict verdict-{kind}">{_html.escape(text)}</span>'


def _statistics_table(rows: Sequence[Mapping[str, Any]], caption: str) -> str:
    out = [
        f'<table class="statistics"><caption class="note">{_html.escape(caption)}</caption>'
        "<thead><tr><th>statistic</th><th>value</th><th>threshold</th><th>verdict</th>"
        "</tr></thead><tbody>"
    ]
    for row in rows:
        name = value_text(row.get("statistic"))
        what = STATISTICS.get(name)
        cell = (
            f'<abbr title="{_html.escape(what, quote=True)}">{_html.escape(name)}</abbr>'
            if what
            else _html.escape(name)
        )
        out.append(
            f"<tr><td>{cell}</td><td class='number'>{_esc(row.get('value'))}</td>"
            f"<td class='number'>{_esc(row.get('threshold'))}</td>"
            f"<td>{_verdict(row.get('verdict'))}</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _window(report: Mapping[str, Any]) -> str:
    window = report.get("window") or {}
    return f"{value_text(window.get('since'))} to {value_text(window.get('until'))}"


def html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no script)."""
    project, environment = value_text(report.get("project")), value_text(report.get("environment"))
    columns = ordered(report.get("columns") or [])
    drifted = [c for c in columns if c.get("verdict") == DRIFT]
    title = f"Drift report: {project} {environment}"
    facts = [
        ("project", report.get("project")),
        ("environment", report.get("environment")),
        ("endpoint", report.get("endpoint")),
        ("window", _window(report)),
        ("requests", report.get("requests")),
        ("rows", report.get("rows")),
        ("refused requests", report.get("refused")),
        ("rows needed for a verdict", report.get("min_rows")),
        ("columns drifted", f"{len(drifted)} of {len(columns)}"),
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<header><h1>{_html.escape(title)}</h1><p class="overall">verdict: '
        f"{_verdict(report.get('verdict'))}</p>",
        '<dl class="facts">'
        + "".join(f"<dt>{_html.escape(k)}</dt><dd>{_esc(v)}</dd>" for k, v in facts)
        + "</dl></header>",
    ]
    checks = report.get("checks") or []
    if checks:
        out.append('<section class="checks"><h2>Checks</h2>')
        out.append(_statistics_table(checks, "checks of the whole window"))
        out.append("</section>")
    hidden_any = False
    for index, column in enumerate(columns):
        name = value_text(column.get("name"))
        dist = distribution(column)
        hidden_any = hidden_any or dist.hidden > 0
        out.append(
            f'<section class="column" id="column-{index}" '
            f'data-column="{_html.escape(name, quote=True)}" '
            f'data-verdict="{_html.escape(value_text(column.get("verdict")), quote=True)}">'
            f"<h2>{_html.escape(name)} {_verdict(column.get('verdict'))}</h2>"
            f'<p class="kind">{_esc(column.get("kind"))}</p>'
        )
        out.append(_statistics_table(column.get("statistics") or [], f"statistics of {name}"))
        out.append(f"<figure>{chart(name, column)}")
        if dist.hidden:
            shown = len(dist.slots) - 1
            out.append(
                f'<figcaption class="note">{shown} of {shown + dist.hidden} categories drawn; '
                f'the other {dist.hidden} are summed as "other".</figcaption>'
            )
        out.append("</figure></section>")
    out.append(
        '<footer class="note"><p>Shares: each distribution is divided by its own number of '
        "rows, so the baseline and the live window compare whatever their sizes. Columns that "
        "drifted come first. A value that could not be computed shows as -. At most "
        f"{MAX_CATEGORIES} categories are drawn per column (the others summed as "
        f'"other (N values)"), and category labels are cut to {MAX_LABEL} characters (the '
        f"tooltip shows {MAX_TOOLTIP})."
        + (" Some columns here had more." if hidden_any else "")
        + "</p></footer></body></html>"
    )
    return "\n".join(out) + "\n"


# --- the job summary ---------------------------------------------------------------------------
def _md(value: object) -> str:
    """One Markdown table cell: one line, no cell break, no HTML."""
    text = value_text(value).replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    return _html.escape(text, quote=False).replace("|", "\\|")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(report: Mapping[str, Any]) -> str:
    """The summary for $GITHUB_STEP_SUMMARY: the verdict, every column's statistics
    (drifted columns first), then the checks."""
    columns = ordered(report.get("columns") or [])
    drifted = [c for c in columns if c.get("verdict") == DRIFT]
    verdict = value_text(report.get("verdict"))
    title = f"### Drift report: {_md(report.get('project'))} {_md(report.get('environment'))}"
    line = (
        f"**Verdict: {_md(verdict)}**: {len(drifted)} of {len(columns)} columns drifted; "
        f"endpoint {_md(report.get('endpoint'))}, {_md(_window(report))}; "
        f"{_md(report.get('requests'))} requests, {_md(report.get('rows'))} rows "
        f"(at least {_md(report.get('min_rows'))} needed), {_md(report.get('refused'))} refused."
    )
    rows: list[tuple[object, ...]] = []
    for c in columns:
        stats = c.get("statistics") or [{"verdict": c.get("verdict")}]  # none: still listed
        rows += [
            (
                c.get("name"),
                s.get("statistic"),
                s.get("value"),
                s.get("threshold"),
                s.get("verdict"),
            )
            for s in stats
        ]
    parts = [title, line, _md_table(("column", "statistic", "value", "threshold", "verdict"), rows)]
    checks = report.get("checks") or []
    if checks:
        parts.append("#### Checks")
        parts.append(
            _md_table(
                ("check", "value", "threshold", "verdict"),
                [
                    (c.get("statistic"), c.get("value"), c.get("threshold"), c.get("verdict"))
                    for c in checks
                ],
            )
        )
    return "\n\n".join(parts) + "\n"


def write(report: Mapping[str, Any], folder: Path) -> Path:
    """Write report.html into folder (created if missing); return its path. The page is
    replaced whole, never left half-written."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.html"
    partial = folder / ".report.html.partial"
    partial.write_text(html(report), encoding="utf-8")
    os.replace(partial, path)
    return path
