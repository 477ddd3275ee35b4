"""GraphiQL runs usageUpdates in headless Chromium, its key typed in the headers editor."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from playwright.sync_api import sync_playwright

from tests.app.serving import running_api
from tests.app.test_authentication import create_key
from tests.app.test_live_usage import INVENTORY, START, Writer
from tests.app.usage_data import load
from tests.ingest.helpers import value

pytestmark = pytest.mark.browser
SUBSCRIPTION = ('subscription Live { usageUpdates(organizationId: "org-a") '
                '{ organizationId bucket { start bytesUsed } } }')


def _editor(page, selector: str, text: str | None = None) -> str:
    """Set (or read) the text of one of GraphiQL's CodeMirror editors."""
    return page.evaluate(
        """([selector, text]) => {
            const editor = document.querySelector(selector + " .CodeMirror").CodeMirror;
            if (text !== null) editor.setValue(text);
            return editor.getValue();
        }""", [selector, text])


def test_graphiql_runs_a_subscription_with_the_key_from_its_headers(postgres_database: str) -> None:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: `make test` installs it (Debian package chromium)")
    load(postgres_database, INVENTORY)
    key = create_key(postgres_database, "org-a")
    writer = Writer(postgres_database)
    with running_api(postgres_database, SIMUSAGE_AUTH="on") as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=[
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        page = browser.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        frames: list = []  # graphql-transport-ws is text: a binary frame is a broken client
        page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(frame)))
        page.goto(f"{base}/graphql")
        page.wait_for_selector(".graphiql-query-editor .CodeMirror")
        _editor(page, ".graphiql-query-editor", SUBSCRIPTION)
        page.click("button:has-text('Headers')")
        _editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", json.dumps({"Authorization": f"Bearer {key}"}))
        page.click(".graphiql-execute-button")
        # Until the subscription is registered, a batch is heard by nobody: write one every
        # half second until GraphiQL shows the total of all of them.
        written, shown, text, deadline = 0, None, "", time.monotonic() + 30
        while time.monotonic() < deadline:
            writer.write([value("89440001", 1234, START)])
            written += 1234
            time.sleep(0.5)
            text = _editor(page, ".result-window")
            if not frames and '"errors"' in text:
                # GraphiQL parses the editor's text after a debounce: a click before that
                # sends the new text with the old operation's name, over HTTP. Again.
                page.click(".graphiql-execute-button")
            shown = json.loads(text) if '"usageUpdates"' in text else None
            if shown and shown["data"]["usageUpdates"]["bucket"]["bytesUsed"] == str(written):
                break
        browser.close()
    assert errors == [] and frames and all(isinstance(frame, str) for frame in frames), (errors, frames, text)
    assert shown is not None, text
    assert shown["data"]["usageUpdates"] == {
        "organizationId": "org-a", "bucket": {"start": "2024-03-30T22:00:00Z",
                                              "bytesUsed": str(written)}}
