"""The usage dashboard at / in headless Chromium (Playwright driving Debian's chromium), against
`simusage serve` with known data: every figure it shows equals the API's own answer."""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app.security_headers import CONTENT_SECURITY_POLICY
from tests.app.serving import running_api
from tests.app.test_authentication import create_key, revoke
from tests.app.usage_data import REFERENCE_INVENTORY, known_events, load

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "app" / "static" / "dashboard"
SCREENSHOT = ROOT / "docs" / "dashboard.png"
BROWSER_ZONE = "America/Sao_Paulo"  # the browser's zone: the page's default
READY = "body[data-state=ready]"
UNAUTHORIZED = "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
SERIES = """query ($id: ID!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!,
                   $zone: String, $after: String) {
  %s(id: $id) { usage(from: $from, to: $to, granularity: $granularity, timeZone: $zone,
                      first: 1000, after: $after) {
    totalCount totalBytesUsed totalEventCount pageInfo { hasNextPage endCursor }
    edges { node { start bytesUsed eventCount } } } } }"""
ORGANIZATIONS = "{ organizations(first: 1000) { edges { node { id } } } }"
TOP = """query ($id: ID!, $from: DateTime!, $to: DateTime!, $zone: String) {
  organization(id: $id) { topSimCards(from: $from, to: $to, timeZone: $zone, first: 10) {
    edges { node { simCard { id } bytesUsed eventCount } } } } }"""


def ask(base: str, query: str, variables: dict, key: str | None = None) -> dict:
    """The API's answer, straight from /graphql."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{base}/graphql", json={"query": query, "variables": variables},
                      headers=headers, timeout=30).json()


def api_series(base: str, shown: dict, key: str | None = None) -> tuple[dict, list[list[str]]]:
    """(totals, rows) of the series the page says it shows, every page of it, from the API."""
    variables = {"id": shown["id"], "from": shown["from"], "to": shown["to"],
                 "granularity": shown["granularity"], "zone": shown["timeZone"], "after": None}
    rows: list[list[str]] = []
    while True:
        usage = ask(base, SERIES % shown["subject"], variables, key)["data"][shown["subject"]]["usage"]
        rows += [[edge["node"]["start"], edge["node"]["bytesUsed"], edge["node"]["eventCount"]]
                 for edge in usage["edges"]]
        if not usage["pageInfo"]["hasNextPage"]:
            return usage, rows
        variables["after"] = usage["pageInfo"]["endCursor"]


def readable(value: str) -> str:
    """Bytes in decimal units with three significant digits, as the page must write them."""
    number, unit = float(value), 0
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    while unit < len(units) - 1 and float(f"{number:.3g}") >= 1000:
        number, unit = number / 1000, unit + 1
    return f"{float(f'{number:.3g}'):g} {units[unit]}"


def counted(value: str, word: str) -> str:
    """"2,437,733 bytes", "1 event": every digit, the word agreeing."""
    return f"{int(value):,} {word}{'' if int(value) == 1 else 's'}"


def hour_label(start: str) -> str:
    """An HOURLY bucket's start as a person reads it: local wall time and UTC offset."""
    offset = start[19:]
    return f"{start[:10]} {start[11:16]} {'UTC' if offset == 'Z' else 'UTC' + offset}"


def organization_options(page: Page) -> list[str]:
    """The organizations the page offers."""
    return page.eval_on_selector_all("#organization option", "options => options.map(o => o.value)")


def shown_series(page: Page) -> dict:
    """What the page says it shows (the results' data attributes)."""
    return page.eval_on_selector("#results", "element => ({...element.dataset})")


def table_rows(page: Page, selector: str = "#buckets tbody tr") -> list[list[str]]:
    """Each row of the bucket table: start (its datetime), exact bytes and events, digits only."""
    return page.eval_on_selector_all(selector, """rows => rows.map(row => [
        row.cells[0].querySelector('time').dateTime,
        row.cells[2].textContent.replaceAll(',', ''), row.cells[3].textContent.replaceAll(',', '')])""")


def bar_pixels(page: Page) -> int:
    """Pixels of the chart's canvas painted in the bars' colour."""
    return page.eval_on_selector("#chart canvas", """canvas => {
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let count = 0;
        for (let i = 0; i < data.length; i += 4)
            if (data[i] === 31 && data[i + 1] === 95 && data[i + 2] === 168 && data[i + 3] === 255) count++;
        return count; }""")


def assert_shows(page: Page, base: str, key: str | None = None) -> list[list[str]]:
    """The total and the table equal the API's answer for the series shown; its rows."""
    usage, rows = api_series(base, shown_series(page), key)
    assert page.inner_text("#total-exact") == counted(usage["totalBytesUsed"], "byte")
    assert page.inner_text("#total-events") == counted(usage["totalEventCount"], "event")
    assert page.inner_text("#total-readable") == readable(usage["totalBytesUsed"])
    assert table_rows(page) == rows[:500] and len(rows) == usage["totalCount"]
    return rows


@pytest.fixture(scope="module")
def database(postgres_database_module: str) -> str:
    load(postgres_database_module, REFERENCE_INVENTORY, known_events())
    return postgres_database_module


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[str]:
    with running_api(database) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: `make test` installs it (Debian package chromium)")
    with sync_playwright() as playwright:
        # Any host but this machine is unresolvable: the page must need no internet.
        launched = playwright.chromium.launch(executable_path=executable, args=[
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        yield launched
        launched.close()


class Watched:
    """A page and what it logged and asked for; `allowed` console messages are expected ones."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(timezone_id=BROWSER_ZONE, locale="en-US",
                                           viewport={"width": 1200, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.console: list[str] = []
        self.requests: list[str] = []
        self.allowed: set[str] = set()
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"exception: {error}"))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def check(self, base: str) -> None:
        """No console message but the allowed ones; no request but to this server (or a Blob)."""
        assert [line for line in self.console if line.split(": ", 1)[1] not in self.allowed] == []
        assert [url for url in self.requests if not url.startswith((base + "/", "blob:" + base))] == []


@pytest.fixture
def watched(browser: Browser, server: str) -> Iterator[Watched]:
    session = Watched(browser)
    yield session
    try:
        session.check(server)
    finally:
        session.context.close()


def test_served_at_the_root_linked_and_self_contained(server: str) -> None:
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert 'src="/static/dashboard/js/main.js"' in page.text
    assert 'href="/"' in httpx.get(f"{server}/graphql", headers={"Accept": "text/html"}).text
    assert "(docs/dashboard.png)" in (ROOT / "README.md").read_text()
    for path in DASHBOARD.rglob("*"):
        if path.suffix in (".js", ".css", ".html") and "vendor" not in path.parts:
            assert not re.search(r"https?://", path.read_text()), path  # no other host, ever
            assert httpx.get(f"{server}/static/{path.relative_to(DASHBOARD.parent)}").status_code == 200


def test_an_organization_and_a_card_as_the_api_answers(watched: Watched, server: str) -> None:
    page = watched.page
    page.goto(f"{server}/")
    page.wait_for_selector(READY)
    assert page.input_value("#time-zone") == BROWSER_ZONE
    unlabelled = page.eval_on_selector_all("select, input", """controls => controls
        .filter(control => !document.querySelector(`label[for="${control.id}"]`)).map(c => c.id)""")
    assert unlabelled == []
    visible = ask(server, ORGANIZATIONS, {})["data"]["organizations"]["edges"]
    assert organization_options(page) == [edge["node"]["id"] for edge in visible]
    page.select_option("#organization", "f00ff")
    page.select_option("#range", "custom")
    page.fill("#from-date", "2022-02-09")
    page.fill("#through-date", "2022-02-13")
    page.select_option("#granularity", "HOURLY")
    page.wait_for_selector(f'{READY} #results[data-id=f00ff][data-to="2022-02-14"][data-granularity=HOURLY]')
    shown = shown_series(page)
    assert shown["timeZone"] == BROWSER_ZONE and shown["from"] == "2022-02-09"
    rows = assert_shows(page, server)
    assert int(rows[0][2]) > 0 and bar_pixels(page) > 1000

    # The chart reads a bucket from the keyboard (and the mouse): start, readable bytes, events.
    page.focus("#chart")
    for key, row in (("Home", rows[0]), ("ArrowRight", rows[1]), ("End", rows[-1])):
        page.keyboard.press(key)
        assert page.inner_text("#chart-announcement") == \
            f"{hour_label(row[0])} · {readable(row[1])} · {counted(row[2], 'event')}"
    page.locator("#chart").blur()
    box = page.locator("#chart .u-over").bounding_box()  # the plot: the interval, hour by hour
    hovered = len(rows) * 2 // 5
    page.mouse.move(box["x"] + box["width"] * (hovered + 0.75) / len(rows), box["y"] + box["height"] * 0.6)
    start, size, events = rows[hovered]  # the pointer on that hour's bar, right of its middle
    assert page.inner_text("#tooltip") == f"{hour_label(start)} · {readable(size)} · {counted(events, 'event')}"
    page.screenshot(path=str(SCREENSHOT))  # the README's picture, a bucket's tooltip shown

    top = ask(server, TOP, {"id": "f00ff", "from": shown["from"], "to": shown["to"],
                            "zone": shown["timeZone"]})["data"]["organization"]["topSimCards"]
    expected_top = [[e["node"]["simCard"]["id"], f"{int(e['node']['bytesUsed']):,}",
                     f"{int(e['node']['eventCount']):,}"] for e in top["edges"]]
    shown_top = page.eval_on_selector_all("#top-cards tbody tr", """rows => rows.map(row =>
        [row.cells[1].textContent, row.cells[3].textContent, row.cells[4].textContent])""")
    assert shown_top == expected_top and len(expected_top) > 1

    card = expected_top[1][0]  # opened from the keyboard, as a link
    page.focus(f"#top-cards a[data-sim-card='{card}']")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{READY} #results[data-subject=simCard][data-id='{card}']")
    assert f"simCard={card}" in page.url and "organization f00ff" in page.inner_text("#results-title")
    assert_shows(page, server)
    assert bar_pixels(page) > 100

    page.go_back()
    page.wait_for_selector(f"{READY} #results[data-subject=organization][data-id=f00ff]")
    assert "simCard" not in page.url and assert_shows(page, server) == rows

    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "usage-f00ff-hourly.csv"
    exported = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert exported == [["start", "bytes_used", "event_count"], *rows]


def test_a_year_of_hours_pages_through_the_connection(watched: Watched, server: str) -> None:
    page = watched.page
    started = time.monotonic()
    page.goto(f"{server}/?organization=f00ff&range=custom&from=2022-01-01&through=2022-12-31"
              "&granularity=HOURLY&timeZone=UTC")
    page.wait_for_selector(READY, timeout=60_000)
    print(f"a year of hours (8,760 buckets) shown in {time.monotonic() - started:.2f} s")
    rows = assert_shows(page, server)
    assert len(rows) == 8760 and page.inner_text("#rows-shown") == "rows 1–500 of 8,760"
    pages = [url for url in watched.requests if url.endswith("/graphql")]
    assert len(pages) == 1 + 9  # the organizations, then 9 pages of at most 1,000 buckets
    page.click("#next-rows")
    assert table_rows(page) == rows[500:1000]
    assert bar_pixels(page) > 100


def test_empty_intervals_unknown_ids_and_refusals_are_messages(watched: Watched, server: str,
                                                               database: str) -> None:
    page = watched.page
    page.goto(f"{server}/?organization=f00ff&range=last24h&granularity=HOURLY")
    page.wait_for_selector(f"{READY} #results[data-granularity=HOURLY]")
    assert page.is_visible("#empty") and page.inner_text("#total-exact") == "0 bytes"
    assert bar_pixels(page) == 0 and len(table_rows(page)) == 24  # every hour, with zeros
    assert_shows(page, server)
    # Live: usage arrives, and Refresh shows it.
    load(database, events=[(datetime.now(UTC) - timedelta(minutes=30), "89440011", 123_456)])
    time.sleep(0.2)  # the API hears of the change (its cache forgets the old answer)
    page.click("#refresh")
    page.wait_for_selector(f"{READY} #empty[hidden]", state="attached")  # this load's end
    assert ["123456", "1"] in [row[1:] for row in assert_shows(page, server)] and bar_pixels(page) > 0

    def message_of(url: str) -> str:
        page.goto(f"{server}/{url}")
        page.wait_for_selector("body[data-state=error]")
        assert not page.is_visible("#results")
        return page.inner_text("#error")

    assert "nobody" in message_of("?organization=nobody")
    assert "99999999" in message_of("?organization=f00ff&simCard=99999999")
    assert "ends before it starts" in message_of("?organization=f00ff&range=custom&from=2022-02-10&through=2022-02-01")
    # A zone offset by half an hour: the API's own refusal, as the API words it.
    refusal = ask(server, SERIES % "organization", {"id": "f00ff", "from": "2022-02-01", "to": "2022-02-02",
                                                     "granularity": "DAILY", "zone": "Asia/Calcutta"})
    assert refusal["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    message = message_of("?organization=f00ff&range=custom&from=2022-02-01&through=2022-02-01"
                         "&granularity=DAILY&timeZone=Asia/Calcutta")
    assert message == refusal["errors"][0]["message"]


def test_access_control_asks_for_a_key_keeps_it_for_the_tab_and_forgets_it(
        watched: Watched, database: str) -> None:
    key = create_key(database, "f00ff")
    page = watched.page
    watched.allowed = {UNAUTHORIZED}  # each refusal is a failed load in the console: expected
    stored = "() => [sessionStorage.getItem('simusage.apiKey'), localStorage.length, document.cookie]"
    with running_api(database, SIMUSAGE_AUTH="on") as base:
        page.goto(f"{base}/?range=custom&from=2022-02-09&through=2022-02-13")
        page.wait_for_selector("body[data-state=key] #key-input")
        assert not page.is_visible("#dashboard")
        page.fill("#key-input", "simusage_" + "0" * 16 + "_" + "0" * 48)
        page.press("#key-input", "Enter")
        page.wait_for_selector("#key-message:has-text('refused')")
        assert page.evaluate(stored) == [None, 0, ""]

        page.fill("#key-input", key)
        page.click("#key-form button")
        page.wait_for_selector(f"{READY} #results[data-id=f00ff]")
        visible = ask(base, ORGANIZATIONS, {}, key)["data"]["organizations"]["edges"]
        assert organization_options(page) == [edge["node"]["id"] for edge in visible] == ["f00ff"]
        assert page.evaluate(stored) == [key, 0, ""]  # the tab's storage only; never a cookie
        rows = assert_shows(page, base, key)
        with page.expect_download() as download:
            page.click("#download")  # a plain link could not send the key: fetch and a Blob
        exported = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert exported[1:] == rows

        page.click("#forget-key")
        page.wait_for_selector("body[data-state=key] #key-input")
        assert page.evaluate(stored) == [None, 0, ""] and not page.is_visible("#forget-key")

        page.fill("#key-input", key)
        page.press("#key-input", "Enter")
        page.wait_for_selector(READY)
        revoke(database, key)
        time.sleep(2.5)  # a verified key is trusted for 2 s by the API (its cache)
        page.click("#refresh")
        page.wait_for_selector("body[data-state=key] #key-message:has-text('refused')")
        watched.check(base)
    assert any(UNAUTHORIZED in line for line in watched.console)
    watched.requests.clear()  # checked against this server, not the fixture's
