"""A Relay app's build against schema.graphql: relay-compiler (npm, tests/relay) compiles
fragments on Organization and SimCard with @refetchable and @connection; the refetch query it
generates pages a series, and relay-runtime in Node pages it forward and backward against a
running server as usePaginationFragment does: both walks join to the whole series.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import Runner, loaded_runner
from tests.app.serving import running_api
from tests.app.test_usage_properties import EVENTS, INVENTORY

ROOT = Path(__file__).resolve().parents[2]
RELAY = ROOT / "tests" / "relay"
COMPILER = RELAY / "node_modules" / ".bin" / "relay-compiler"
# How a Relay app reads this schema's global ids (app/types/node.py): nodeId, not id.
CONFIG = {"src": "./src", "schema": str(ROOT / "schema.graphql"), "language": "javascript",
          "schemaConfig": {"nodeInterfaceIdField": "nodeId"},
          "artifactDirectory": "./src/__generated__",
          "eagerEsModules": False}  # CommonJS artifacts: Node requires them as they are


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated artifacts of tests/relay/src, compiled in a scratch copy."""
    if shutil.which("npm") is None:
        pytest.fail("npm is not installed: the machine's Node 20 provides it")
    if not COMPILER.exists():  # the pinned compiler, from tests/relay/package-lock.json
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=RELAY, check=True,
                       capture_output=True, timeout=600)
    app = tmp_path_factory.mktemp("relay-app")
    shutil.copytree(RELAY / "src", app / "src")
    (app / "src" / "__generated__").mkdir()
    (app / "relay.config.json").write_text(json.dumps(CONFIG))
    result = subprocess.run([str(COMPILER)], cwd=app, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return app / "src" / "__generated__"


def operation_text(artifact: Path) -> str:
    """The query text a generated artifact sends to the server."""
    match = re.search(r'"text": (".*?[^\\]")', artifact.read_text())
    assert match, artifact
    return json.loads(match[1])


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    """The schema over the property tests' data set (loaded once per module)."""
    with loaded_runner(module_database, INVENTORY, EVENTS) as schema_runner:
        yield schema_runner


@pytest.mark.parametrize(("query", "subject", "key"), [
    ("OrganizationUsagePaginationQuery", "organization", "alpha"),
    ("SimCardUsagePaginationQuery", "simCard", "1001"),
])
def test_the_generated_refetch_query_pages_a_series(
    compiled: Path, runner: Runner, query: str, subject: str, key: str
) -> None:
    text = operation_text(compiled / f"{query}.graphql.js")
    assert "node(id: $nodeId)" in text
    node_id = runner.data(f'{{ {subject}(id: "{key}") {{ nodeId }} }}')[subject]["nodeId"]
    interval = {"from": "2022-01-30T00:00:00Z", "to": "2022-02-08T00:00:00Z"}
    whole = whole_series(runner, subject, key, interval)
    edges, cursor = [], None
    for _ in range(50):  # what usePaginationFragment's loadNext does: the refetch query, after
        page = runner.data(text, {"nodeId": node_id, "count": 24, "cursor": cursor, **interval})
        usage = page["node"]["usage"]
        edges += [{"node": {name: edge["node"][name] for name in ("start", "bytesUsed", "eventCount")}}
                  for edge in usage["edges"]]
        if not usage["pageInfo"]["hasNextPage"]:
            break
        cursor = usage["pageInfo"]["endCursor"]
    assert edges == whole and len(whole) == 9 * 24


PAGINATE = RELAY / "paginate.js"
CASES = [("OrganizationUsagePaginationQuery", "fragments_organizationUsage", "organization", "alpha"),
         ("SimCardUsagePaginationQuery", "fragments_simCardUsage", "simCard", "1001")]


def whole_series(runner: Runner, subject: str, key: str, interval: dict) -> list[dict]:
    """The series in one page, as a plain query asks for it."""
    return runner.data(
        f'{{ {subject}(id: "{key}") {{ usage(from: "{interval["from"]}", to: "{interval["to"]}", '
        'granularity: HOURLY, first: 1000) { edges { node { start bytesUsed eventCount } } } } }'
    )[subject]["usage"]["edges"]


@pytest.mark.parametrize(("query", "fragment", "subject", "key"), CASES)
def test_relay_runtime_pages_both_ways_like_use_pagination_fragment(
    compiled: Path, runner: Runner, module_database: str, query: str, fragment: str, subject: str,
    key: str,
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the machine's Node 20 provides it")
    interval = {"from": "2022-01-30T00:00:00Z", "to": "2022-02-08T00:00:00Z"}
    whole = whole_series(runner, subject, key, interval)
    node_id = runner.data(f'{{ {subject}(id: "{key}") {{ nodeId }} }}')[subject]["nodeId"]
    with running_api(module_database) as url:
        for backward in (False, True):
            options = {"url": url, "artifacts": str(compiled), "query": query, "fragment": fragment,
                       "nodeId": node_id, "size": 25, "backward": backward, **interval}
            result = subprocess.run([node, str(PAGINATE), json.dumps(options)], cwd=RELAY,
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            walked = json.loads(result.stdout)
            assert walked["edges"] == whole, backward
            assert walked["requests"] == -(-len(whole) // 25)  # one request a page, none repeated
