"""GraphiQL in a real headless Chromium, every external host unresolvable, under its CSP."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest
from fastapi.testclient import TestClient

from app.security_headers import CONTENT_SECURITY_POLICY
from tests.app.serving import running_api

pytestmark = pytest.mark.browser


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: `make test` installs it (Debian package chromium)")
    return path


def rendered(url: str) -> tuple[str, list[str]]:
    """The page's DOM after its scripts ran, and the console messages it logged."""
    result = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         # Any host but this machine is unresolvable: the page must need no internet.
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )
    return result.stdout, re.findall(r":CONSOLE[^\]]*\] (.*)", result.stderr)


def test_graphiql_renders_and_introspects_under_its_policy(postgres_database: str) -> None:
    with running_api(postgres_database, SIMUSAGE_METRICS_OPERATIONS="IntrospectionQuery") as base:
        dom, console = rendered(f"{base}/graphql")
        metrics = httpx.get(f"{base}/metrics").text
    assert console == [], console  # a CSP violation or a script error would show here
    assert "graphiql-container" in dom and "DailyUsageOfOrganization" in dom
    # The page fetched the schema from this server (connect-src 'self').
    assert re.search(r'simusage_graphql_requests_total\{operation="IntrospectionQuery"\} [1-9]', metrics)


@pytest.mark.parametrize("path", ["/graphql", "/healthz", "/static/graphiql/start.js", "/nowhere"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "'unsafe" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_refusals_carry_them_too(client: TestClient) -> None:
    response = client.post("/graphql", content=b"x" * 10_000_000,
                           headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.headers["x-frame-options"] == "DENY"
