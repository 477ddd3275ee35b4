"""`simusage inventory import/move/show/reattribute` on a real database: exit codes and output."""

from __future__ import annotations

import json

import psycopg
import pytest

from simusage import cli


def run(capsys: pytest.CaptureFixture, *arguments: str) -> tuple[int, str, str]:
    status = cli.main(["inventory", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_import_move_show_and_the_usage_that_follows(database: str, capsys, tmp_path) -> None:
    (tmp_path / "cards.json").write_text(json.dumps([{"sim-card-id": "11", "org-id": "a"}]))
    with psycopg.connect(database) as connection:
        connection.execute("INSERT INTO usage (time, sim_card_id, bytes_used) VALUES "
                           "('2024-01-01T10:00Z', '11', 5), ('2024-03-01T10:00Z', '11', 7)")
    status, out, err = run(capsys, "import", "cards.json")
    assert status == 0 and "1 of 1 SIM card(s) given a new owner" in out
    assert "re-attribution done: 1 job(s), 2 events attributed again" in err  # its whole past
    status, out, err = run(capsys, "move", "11", "b", "--effective", "2024-02-01T00:00:00Z")
    assert status == 0 and "1 events attributed again" in err
    status, out, _ = run(capsys, "show", "11")
    assert status == 0
    assert out.splitlines()[0].split() == ["2024-02-01T00:00:00+00:00", "now", "b"]
    assert out.splitlines()[1].split() == ["1970-01-01T00:00:00+00:00", "2024-02-01T00:00:00+00:00", "a"]
    with psycopg.connect(database) as connection:
        rows = connection.execute("SELECT bytes_used, organization_id FROM usage ORDER BY time").fetchall()
        organizations = connection.execute(
            "SELECT organization_id, sum(bytes_used) FROM usage_organization_daily GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [(5, "a"), (7, "b")]
    assert organizations == [("a", 5), ("b", 7)]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("move", "11", "b", "--effective", "2024-02-01T00:00:00"), "needs a UTC offset"),
        (("move", "1x", "b", "--effective", "2024-02-01T00:00:00Z"), "move: CARD must be"),
        (("move", "11", "", "--effective", "2024-02-01T00:00:00Z"), "move: ORG must be"),
        (("show", "abc"), "show: CARD must be"),
        (("import", "absent.json"), "cannot read"),
    ],
)
def test_bad_input_is_one_line_and_status_2(database: str, capsys, arguments, message) -> None:
    status, out, err = run(capsys, *arguments)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_show_of_a_card_without_owner(database: str, capsys) -> None:
    status, out, _ = run(capsys, "show", "42")
    assert status == 1 and "has no owner" in out
