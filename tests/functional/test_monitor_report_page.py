"""The drift report's page in a real browser: Debian's Chromium, headless, started by this
module (its own process group, DevTools on 127.0.0.1 only, a fresh profile) and driven over
the DevTools protocol with websocket-client (the `test` extra). The page is loaded from a
file:// URL, as someone opening the workflow's artifact would; console messages, exceptions,
log entries, dialogs and network requests are collected while it loads.

Skipped only when /usr/bin/chromium is missing (`apt-get install chromium`; .ci/run does it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from pipeline.shared import monitor_report
from tests import monitor_reports
from tests.conftest import FIXTURES
from tests.monitor_reports import IMG_CATEGORY, SCRIPT_NAME

CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT = 60.0  # seconds; a cold start on a busy 2-core machine
CALL_TIMEOUT = 30.0

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is not installed (Debian: apt-get install -y chromium; .ci/run does)",
)


class DevTools:
    """One websocket to the browser; commands to a page go with its flat sessionId. Events
    that arrive while waiting for an answer are kept, in order, in `events`."""

    def __init__(self, url: str):
        # Chromium refuses websocket upgrades that carry an Origin it was not told to allow
        self.socket = websocket.create_connection(url, timeout=CALL_TIMEOUT, suppress_origin=True)
        self.events: list[dict] = []
        self.last_id = 0

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + CALL_TIMEOUT
        while time.monotonic() < deadline:
            reply = json.loads(self.socket.recv())
            if reply.get("id") != self.last_id:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise AssertionError(f"{method}: {reply['error']}")
            return reply.get("result", {})
        raise AssertionError(f"{method}: no answer within {CALL_TIMEOUT:g}s")

    def wait_for(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + CALL_TIMEOUT
        seen = 0
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self.events.append(json.loads(self.socket.recv()))
        raise AssertionError(f"no {method} within {CALL_TIMEOUT:g}s")

    def close(self) -> None:
        self.socket.close()


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM Chromium's process group (the wrapper script, the browser, its renderers),
    then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[DevTools]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = profile.parent / "chromium.log"
    args = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",  # root in a container has no user namespaces for the sandbox
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-crash-reporter",
        "--disable-features=Translate,MediaRouter,OptimizationHints",
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",  # a free port, written to DevToolsActivePort
        "about:blank",
    ]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own process group: stopped whole by its PID
        )
    devtools = None
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"Chromium did not start (exit status {process.poll()}): "
                    f"{log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.05)
        port, path = active.read_text().splitlines()[:2]
        devtools = DevTools(f"ws://127.0.0.1:{int(port)}{path}")
        yield devtools
    finally:
        if devtools:
            devtools.close()
        _stop(process)


class Loaded:
    """What happened while one page loaded, and a way to ask it questions."""

    def __init__(self, browser: DevTools, url: str):
        self.browser, self.url = browser, url
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        self.target = target
        self.session = browser.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.first_event = len(browser.events)
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.call(f"{domain}.enable", self.session)
        browser.call("Page.navigate", self.session, url=url)
        browser.wait_for("Page.loadEventFired", self.session)
        # two frames: layout done, and any late error reported, before anything is read
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def evaluate(self, expression: str):
        result = self.browser.call(
            "Runtime.evaluate",
            self.session,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def events(self, method: str) -> list[dict]:
        return [
            e["params"]
            for e in self.browser.events[self.first_event :]
            if e.get("sessionId") == self.session and e.get("method") == method
        ]

    def errors(self) -> list[str]:
        found = [
            f"console.{e['type']}: {[a.get('value', a.get('description')) for a in e['args']]}"
            for e in self.events("Runtime.consoleAPICalled")
            if e["type"] in ("error", "assert")
        ]
        found += [
            f"exception: {e['exceptionDetails'].get('exception', {}).get('description')}"
            for e in self.events("Runtime.exceptionThrown")
        ]
        found += [
            f"log {e['entry']['source']}: {e['entry']['text']}"
            for e in self.events("Log.entryAdded")
            if e["entry"]["level"] == "error"
        ]
        found += [f"dialog: {e['message']}" for e in self.events("Page.javascriptDialogOpening")]
        return found

    def requested(self) -> list[str]:
        return [e["request"]["url"] for e in self.events("Network.requestWillBeSent")]

    def close(self) -> None:
        self.browser.call("Target.closeTarget", targetId=self.target)


@contextlib.contextmanager
def loaded(browser: DevTools, path: Path) -> Iterator[Loaded]:
    page = Loaded(browser, path.resolve().as_uri())
    try:
        yield page
    finally:
        page.close()


SECTIONS = """[...document.querySelectorAll('section.column')].map(s => ({
    column: s.getAttribute('data-column'),
    verdict: s.getAttribute('data-verdict'),
    heading: s.querySelector('h2').firstChild.textContent.trim(),
    charts: [...s.querySelectorAll('svg.chart')].map(c => c.getAttribute('data-column')),
}))"""
# Every text of a chart, as laid out: it must lie inside its chart (nothing cut off).
OUTSIDE = """[...document.querySelectorAll('svg.chart')].flatMap(svg => {
    const box = svg.getBoundingClientRect();
    return [...svg.querySelectorAll('text')].map(t => [t, t.getBoundingClientRect()])
        .filter(([t, r]) => r.left < box.left - 1 || r.right > box.right + 1
                         || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        .map(([t, r]) => svg.getAttribute('data-column') + ': ' + t.textContent);
})"""


def _assert_clean(page: Loaded) -> None:
    assert page.errors() == []
    requested = page.requested()
    assert requested, "no request seen at all: the network check would prove nothing"
    assert set(requested) == {page.url}


def test_the_page_loads_with_no_error_no_request_but_itself_one_chart_per_column(browser, tmp_path):
    report = monitor_reports.sample()
    path = monitor_report.write(report, tmp_path / "monitor" / "prod")
    with loaded(browser, path) as page:
        _assert_clean(page)
        sections = page.evaluate(SECTIONS)
        assert [s["column"] for s in sections] == [
            "bmi",
            "sex",
            "age",
            "region",
            "bp",
            "prediction",
        ]
        verdicts = [s["verdict"] for s in sections]
        assert verdicts == sorted(verdicts, key=lambda v: v != "drift")  # drifted first
        assert verdicts[:2] == ["drift", "drift"]
        for section in sections:  # exactly one chart per column, and it is that column's
            assert section["charts"] == [section["column"]]
            assert section["heading"] == section["column"]
        assert page.evaluate("document.querySelectorAll('svg.chart').length") == len(
            report["columns"]
        )
        sizes = page.evaluate(
            "[...document.querySelectorAll('svg.chart')].map(s => s.getBoundingClientRect())"
            ".map(r => [r.width, r.height])"
        )
        assert all(w > 300 and h > 200 for w, h in sizes), sizes  # drawn, not collapsed
        assert page.evaluate(OUTSIDE) == []


def test_hostile_names_and_categories_stay_text_in_the_browser(browser, tmp_path):
    path = monitor_report.write(monitor_reports.hostile(), tmp_path / "monitor" / "prod")
    with loaded(browser, path) as page:
        _assert_clean(page)  # an executed alert(1) would be a dialog; a fetched x an request
        assert page.evaluate("document.querySelectorAll('script, img, [onerror]').length") == 0
        sections = page.evaluate(SECTIONS)
        named = [s for s in sections if s["column"] == SCRIPT_NAME]
        assert len(named) == 1 and named[0]["heading"] == SCRIPT_NAME
        assert named[0]["charts"] == [SCRIPT_NAME]
        tooltips = page.evaluate(
            "[...document.querySelectorAll('svg.chart g.slot > title')].map(t => t.textContent)"
        )
        assert any(t.startswith(IMG_CATEGORY + ": ") for t in tooltips)
        drawn = page.evaluate(
            "document.querySelector('svg.chart[data-column=\"region\"]')"
            ".querySelectorAll('g.slot').length"
        )
        assert drawn == monitor_report.MAX_CATEGORIES
        assert page.evaluate(OUTSIDE) == []


def test_the_checks_catch_a_page_that_fetches_or_fails(browser):
    """The harness itself: a planted page that fetches from elsewhere (127.0.0.1's closed
    port 9) and throws is caught by the very checks the report passes."""
    with loaded(browser, FIXTURES / "monitor" / "page_fetches_and_throws.html") as page:
        errors = page.errors()
        assert any("exception" in e for e in errors), errors
        assert any(e.startswith("console.error") for e in errors), errors
        assert "http://127.0.0.1:9/pixel.png" in page.requested()
        with pytest.raises(AssertionError):
            _assert_clean(page)
