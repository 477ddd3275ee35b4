"""Apollo Client 3 (npm, tests/apollo) against a running server: automatic persisted queries
and relayStylePagination, both ways. The first request sends the hash only, is told
PERSISTED_QUERY_NOT_FOUND and retries with the document; later requests send the hash only;
the pages fetchMore merges equal the series asked for in one page.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import Runner, loaded_runner
from tests.app.serving import running_api
from tests.app.test_relay import whole_series
from tests.app.test_usage_properties import EVENTS, INVENTORY

APOLLO = Path(__file__).resolve().parents[2] / "tests" / "apollo"
INTERVAL = {"from": "2022-01-30T00:00:00Z", "to": "2022-02-08T00:00:00Z"}


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with the pinned Apollo Client installed beside the script."""
    binary, npm = shutil.which("node"), shutil.which("npm")
    if binary is None or npm is None:
        pytest.fail("node and npm are not installed: the machine's Node 20 provides them")
    if not (APOLLO / "node_modules" / "@apollo" / "client").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=APOLLO, check=True,
                       capture_output=True, timeout=600)
    return binary


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    """The schema over the property tests' data set (loaded once per module)."""
    with loaded_runner(module_database, INVENTORY, EVENTS) as schema_runner:
        yield schema_runner


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
def test_apollo_pages_with_persisted_queries(
    node: str, runner: Runner, module_database: str, backward: bool
) -> None:
    whole = whole_series(runner, "organization", "alpha", INTERVAL)
    # One worker: each keeps its own persisted documents, so the sequence below is exact.
    with running_api(module_database, SIMUSAGE_API_WORKERS="1") as url:
        options = {"url": url, "organization": "alpha", "size": 25, "backward": backward,
                   **INTERVAL}
        result = subprocess.run([node, str(APOLLO / "paginate.js"), json.dumps(options)],
                                cwd=APOLLO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    walked = json.loads(result.stdout)
    assert walked["edges"] == whole
    pages = -(-len(whole) // 25)
    sent = walked["sent"]
    # The first page: hash only, then the retry with the document; every later page: hash only.
    assert sent[:2] == [{"withQuery": False, "withHash": True}, {"withQuery": True, "withHash": True}]
    assert sent[2:] == [{"withQuery": False, "withHash": True}] * (pages - 1)
