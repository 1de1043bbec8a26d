"""The drift report's presentation (pipeline.shared.monitor_report): the page's structure read
back with the standard library's HTML parser, its escaping of users' and requesters' strings,
its bounds, and the Markdown job summary. The page in a real browser:
tests/functional/test_monitor_report_page.py."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import pytest

from pipeline.shared import monitor_report
from tests import monitor_reports
from tests.monitor_reports import IMG_CATEGORY, SCRIPT_NAME

DRIFTED_FIRST = ["bmi", "sex", "age", "region", "bp", "prediction"]


class Page(HTMLParser):
    """Elements (tag, attributes, the svg.chart they are in) and text, as a browser's parser
    would split them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], str | None]] = []
        self.text: list[tuple[str, str | None]] = []  # (text, the chart's column or None)
        self.open: list[str] = []
        self.chart: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "svg" and "chart" in (attributes.get("class") or "").split():
            self.chart = attributes.get("data-column")
        self.elements.append((tag, attributes, self.chart))

    def handle_endtag(self, tag):
        if tag == "svg":
            self.chart = None

    def handle_data(self, data):
        if data.strip():
            self.text.append((data, self.chart))

    def find(self, tag: str, cls: str | None = None):
        return [
            (attrs, chart)
            for t, attrs, chart in self.elements
            if t == tag and (cls is None or cls in (attrs.get("class") or "").split())
        ]

    def chart_text(self, column: str) -> str:
        return "\n".join(t for t, chart in self.text if chart == column)


def bars(svg: str, series: str) -> list[float]:
    """The heights of a chart's bars of one series, in order."""
    page = Page(svg)
    return [float(a["height"]) for a, _ in page.find("rect", series) if "bar" in a["class"]]


@pytest.fixture
def report():
    return monitor_reports.sample()


def test_the_page_shows_every_column_once_drifted_first_in_the_reports_order(report):
    page = Page(monitor_report.html(report))
    sections = [a["data-column"] for a, _ in page.find("section", "column")]
    charts = [a["data-column"] for a, _ in page.find("svg", "chart")]
    assert sections == DRIFTED_FIRST
    assert charts == DRIFTED_FIRST  # one chart per column, in the same order
    verdicts = [a["data-verdict"] for a, _ in page.find("section", "column")]
    assert verdicts == ["drift", "drift", "ok", "ok", "ok", "ok"]


def test_the_header_names_where_and_when_and_how_much(report):
    page = Page(monitor_report.html(report))
    text = " ".join(t for t, _ in page.text)
    for wanted in (
        "Drift report: diabetes prod",
        "diabetes-prod",
        "2026-12-06T17:00:00Z to 2026-12-07T17:00:00Z",
        "1200",  # requests
        "3400",  # rows
        "12",  # refused
        "2 of 6",  # columns drifted
    ):
        assert wanted in text, wanted
    overall = [a for a, _ in page.find("span", "verdict")][0]
    assert "verdict-drift" in overall["class"]


def test_each_column_has_its_statistics_table(report):
    html = monitor_report.html(report)
    section = html.split('data-column="bmi"', 1)[1].split("</section>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", section)
    plain = [re.sub(r"<[^>]+>", "", c) for c in cells]
    assert plain == ["psi", "0.61", "0.2", "drift", "ks", "0.05", "0.1", "ok"]


def test_a_value_that_could_not_be_computed_shows_as_a_dash(report):
    html = monitor_report.html(report)
    section = html.split('data-column="bp"', 1)[1].split("</section>", 1)[0]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", section)]
    assert cells == ["psi", "-", "0.2", "ok", "ks", "-", "0.1", "ok"]
    assert "None" not in html and "nan" not in html.lower().replace("font-variant", "")


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "-"), (float("nan"), "-"), (0.031, "0.031"), (1 / 3, "0.3333"), (12, "12"),
     (float("inf"), "∞"), (float("-inf"), "-∞"), (True, "true"), ("drift", "drift")],
)  # fmt: skip
def test_values_are_shown_short_and_never_as_none(value, shown):
    assert monitor_report.value_text(value) == shown


def test_every_chart_has_both_series_a_legend_and_axis_labels(report):
    page = Page(monitor_report.html(report))
    for column in DRIFTED_FIRST:
        series = [a["data-series"] for a, c in page.find("g", "legend") if c == column]
        assert series[:2] == ["baseline", "live"], column
        text = page.chart_text(column)
        assert "share of rows" in text, column
        assert f"{column}: " in text, column  # the x axis names the column
    assert "* not in the baseline" in page.chart_text("sex")  # unseen values are explained


def test_number_charts_draw_each_series_as_shares_over_the_same_bins(report):
    dist = monitor_report.distribution(report["columns"][1])  # bmi
    assert dist.kind == "bins"
    assert dist.edges == (0.0, 10.0, 20.0, 30.0, 40.0, 50.0)
    assert [s.label for s in dist.slots][:2] == ["[0, 10)", "[10, 20)"]
    html = monitor_report.chart("bmi", report["columns"][1])
    baseline, live = bars(html, "baseline"), bars(html, "live")
    # 40 of 100 rows is the tallest baseline bar; 40 of 100 the tallest live one too
    assert max(baseline) == pytest.approx(max(live))
    assert baseline[0] / baseline[2] == pytest.approx(5 / 40, rel=1e-2)
    assert live[0] / live[3] == pytest.approx(1 / 40, rel=5e-2)


def test_shares_compare_samples_of_different_sizes():
    column = monitor_reports.number("x", "ok", [10, 30], [1000, 3000])
    html = monitor_report.chart("x", column)
    assert bars(html, "baseline") == bars(html, "live")


def test_categories_are_drawn_by_baseline_share_then_the_unseen_ones_marked(report):
    dist = monitor_report.distribution(report["columns"][3])  # sex
    assert [s.label for s in dist.slots] == ["f", "m", "x"]
    assert [s.unseen for s in dist.slots] == [False, False, True]
    page = Page(monitor_report.html(report))
    slots = [a["class"] for a, c in page.find("g", "slot") if c == "sex"]
    assert slots == ["slot", "slot", "slot unseen"]
    assert "* x" in page.chart_text("sex")


def test_hostile_names_and_categories_render_as_text_never_as_markup():
    report = monitor_reports.hostile()
    html = monitor_report.html(report)
    page = Page(html)
    tags = {t for t, _, _ in page.elements}
    assert "script" not in tags and "img" not in tags
    assert not [a for _, a, _ in page.elements if any(k.startswith("on") for k in a)]
    text = "\n".join(t for t, _ in page.text)
    assert SCRIPT_NAME in text  # the column's heading, as text
    assert "<b>proj</b>" in text  # and the project
    # attributes read back exactly: nothing closed them early
    assert SCRIPT_NAME in [a["data-column"] for a, _ in page.find("svg", "chart")]
    assert SCRIPT_NAME in [a["data-column"] for a, _ in page.find("section", "column")]
    # the category: its label cut, its tooltip whole, both text
    assert "* " + IMG_CATEGORY[: monitor_report.MAX_LABEL - 1] + "…" in text
    assert any(t.startswith(IMG_CATEGORY + ": baseline 0.0%") for t, _ in page.text)
    assert "<img" not in html and "<script>" not in html


def test_the_page_runs_no_script_and_fetches_nothing(report):
    html = monitor_report.html(monitor_reports.hostile())
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", html)  # no handler attribute in any tag
    urls = set(re.findall(r"(?:https?|ftp|file|data|javascript):[^\s\"'<>)]*", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace: a name, never fetched
    assert "url(" not in html and "@import" not in html
    page = Page(html)
    (csp,) = [
        a["content"]
        for a, _ in page.find("meta")
        if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_the_page_draws_at_most_the_bound_of_categories_and_says_so():
    report = monitor_reports.hostile()  # region: 5003 distinct values, about 1 MB of names
    size = sum(len(k) for k in report["columns"][2]["live"]["categories"])
    html = monitor_report.html(report)
    assert size > 1_000_000 and len(html) < 120_000
    page = Page(html)
    slots = [a["class"] for a, c in page.find("g", "slot") if c == "region"]
    assert len(slots) == monitor_report.MAX_CATEGORIES
    assert slots[-1] == "slot unseen other" or slots[-1].endswith("other")
    text = page.chart_text("region")
    assert "other (4954 values)" in text
    page_text = "\n".join(t for t, _ in page.text)
    assert "49 of 5003 categories drawn" in page_text
    assert f"At most {monitor_report.MAX_CATEGORIES} categories are drawn" in page_text


def test_a_new_value_heavy_in_the_live_window_is_drawn_among_many():
    baseline = {f"b{i:03d}": 10 for i in range(200)}
    live = {**{f"b{i:03d}": 1 for i in range(200)}, "newcomer": 500}
    dist = monitor_report.distribution(monitor_reports.string("c", "drift", baseline, live))
    labels = [s.label for s in dist.slots]
    assert len(labels) == monitor_report.MAX_CATEGORIES
    assert "newcomer" in labels and labels[-1] == "other (152 values)"
    assert labels.index("newcomer") == len(labels) - 2  # unseen after the baseline's
    other = dist.slots[-1]
    assert other.baseline == 152 * 10 and other.live == 152 and not other.unseen


def test_a_chart_without_live_rows_says_so(report):
    page = Page(monitor_report.html(report))
    assert "no live rows" in page.chart_text("bp")
    assert "no live rows" not in page.chart_text("age")


def test_a_column_without_distributions_still_gets_its_one_chart():
    column = {"name": "empty", "kind": "number", "verdict": "ok", "statistics": []}
    report = {**monitor_reports.sample(), "columns": [column]}
    page = Page(monitor_report.html(report))
    assert [a["data-column"] for a, _ in page.find("svg", "chart")] == ["empty"]
    assert "no distribution in the report" in page.chart_text("empty")


def test_the_summary_has_the_verdict_then_every_statistic_drifted_first_then_the_checks(report):
    text = monitor_report.markdown(report)
    lines = text.splitlines()
    assert lines[0] == "### Drift report: diabetes prod"
    assert lines[2].startswith("**Verdict: drift**: 2 of 6 columns drifted; endpoint diabetes-prod")
    assert "1200 requests, 3400 rows (at least 100 needed), 12 refused" in lines[2]
    statistics = text.split("#### Checks", 1)[0].splitlines()
    table = [line for line in statistics if line.startswith("| ")]
    assert table[0] == "| column | statistic | value | threshold | verdict |"
    columns = [row.split(" | ")[0].removeprefix("| ") for row in table[1:]]
    assert columns == [c for c in DRIFTED_FIRST for _ in (0, 1)]
    assert "| bmi | psi | 0.61 | 0.2 | drift |" in lines
    assert "| bp | ks | - | 0.1 | ok |" in lines
    checks = text.split("#### Checks", 1)[1]
    assert "| check | value | threshold | verdict |" in checks
    assert "| refused_share | 0.01 | 0.05 | ok |" in checks


def test_the_summary_keeps_one_row_per_statistic_whatever_the_names_hold(report):
    report = copy.deepcopy(report)
    report["columns"][1]["name"] = "a|b\nc\r\nd <img src=x>"
    text = monitor_report.markdown(report)
    row = next(line for line in text.splitlines() if " psi | 0.61 " in line)
    assert row == "| a\\|b c d &lt;img src=x&gt; | psi | 0.61 | 0.2 | drift |"
    assert len([line for line in text.splitlines() if line.startswith("| a\\|b")]) == 2


def test_the_summary_lists_a_column_without_statistics():
    column = {"name": "empty", "kind": "string", "verdict": "ok", "statistics": []}
    text = monitor_report.markdown({**monitor_reports.sample(), "columns": [column], "checks": []})
    assert "| empty | - | - | - | ok |" in text.splitlines()
    assert "#### Checks" not in text


def test_not_enough_data_is_the_verdict_shown(report):
    report = {**report, "verdict": "not enough data", "rows": 40}
    assert "**Verdict: not enough data**" in monitor_report.markdown(report)
    page = Page(monitor_report.html(report))
    overall = [a for a, _ in page.find("span", "verdict")][0]
    assert "verdict-none" in overall["class"]


def test_write_puts_report_html_in_the_folder_it_creates(tmp_path, report):
    folder = tmp_path / "build" / "monitor" / "prod"
    path = monitor_report.write(report, folder)
    assert path == folder / "report.html"
    assert path.read_text(encoding="utf-8") == monitor_report.html(report)
    assert sorted(p.name for p in folder.iterdir()) == ["report.html"]  # nothing half-written
    report["verdict"] = "ok"
    assert monitor_report.write(report, folder) == path  # replaced
    assert "verdict-ok" in path.read_text(encoding="utf-8")
