"""`simusage apikey create/list/revoke` on a real database; keys never stored in clear."""

from __future__ import annotations

import hashlib

import psycopg
import pytest

from app.authentication import KEY_FORMAT
from simusage import cli
from simusage.settings import get_settings

ALL_COLUMNS_AS_TEXT = "SELECT row_to_json(api_key)::text FROM api_key"


def run(capsys: pytest.CaptureFixture, *arguments: str) -> tuple[int, str, str]:
    """Run `simusage apikey ...`: exit status, stdout, stderr."""
    status = cli.main(["apikey", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def create(capsys: pytest.CaptureFixture, *arguments: str) -> str:
    """A new key, printed alone on stdout."""
    status, out, _ = run(capsys, "create", *arguments)
    assert status == 0
    key = out.strip()
    assert KEY_FORMAT.fullmatch(key), out
    return key


def key_id(key: str) -> str:
    return KEY_FORMAT.fullmatch(key)[1]


def test_create_prints_the_key_once_and_stores_only_its_digest(database: str, capsys) -> None:
    key = create(capsys, "--org", "f00ff", "--name", "billing team")
    secret = key.rsplit("_", 1)[1]
    assert len(secret) * 4 >= 128  # hex digits: at least 128 random bits
    with psycopg.connect(database) as connection:
        rows = [row[0] for row in connection.execute(ALL_COLUMNS_AS_TEXT)]
        stored = connection.execute(
            "SELECT id, name, organization_id, admin, secret_digest, revoked_at FROM api_key"
        ).fetchone()
    assert len(rows) == 1
    # Neither the key nor its secret, in any spelling the row's text could hold.
    for text in (key, secret, secret.upper(), key.encode().hex(), secret.encode().hex()):
        assert text not in rows[0]
    assert stored == (key_id(key), "billing team", "f00ff", False,
                      hashlib.sha256(key.encode()).digest(), None)


def test_each_key_is_different(database: str, capsys) -> None:
    keys = {create(capsys, "--org", "f00ff") for _ in range(5)}
    assert len(keys) == 5
    assert len({key_id(key) for key in keys}) == 5


def test_admin_key_has_no_organization(database: str, capsys) -> None:
    key = create(capsys, "--admin")
    with psycopg.connect(database) as connection:
        row = connection.execute("SELECT organization_id, admin FROM api_key").fetchone()
    assert row == (None, True)
    assert key_id(key)


def test_organization_and_admin_are_exclusive_and_one_is_required(database: str, capsys) -> None:
    for arguments in (["--org", "f00ff", "--admin"], []):
        with pytest.raises(SystemExit) as exit:
            cli.main(["apikey", "create", *arguments])
        assert exit.value.code == 2


def test_empty_organization_is_refused(database: str, capsys) -> None:
    status, out, err = run(capsys, "create", "--org", " ")
    assert (status, out) == (2, "")
    assert "--org" in err


def test_create_notes_an_organization_missing_from_the_inventory(database: str, capsys) -> None:
    with psycopg.connect(database) as connection:
        connection.execute("INSERT INTO inventory VALUES ('89440001', 'a01b7')")
    assert "no SIM card" not in run(capsys, "create", "--org", "a01b7")[2]
    assert "no SIM card in the inventory" in run(capsys, "create", "--org", "zzz")[2]


def test_list_shows_every_key_and_no_secret(database: str, capsys) -> None:
    assert "no API keys" in run(capsys, "list")[1]
    scoped = create(capsys, "--org", "x00g8", "--name", "x team")
    admin = create(capsys, "--admin")
    status, out, _ = run(capsys, "list")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "SCOPE", "NAME", "CREATED", "REVOKED"]
    assert len(lines) == 3
    assert key_id(scoped) in lines[1] and "org x00g8" in lines[1] and "x team" in lines[1]
    assert key_id(admin) in lines[2] and "admin" in lines[2]
    for key in (scoped, admin):
        assert key.rsplit("_", 1)[1] not in out


def test_revoke_marks_the_key_and_keeps_it_listed(database: str, capsys) -> None:
    key = create(capsys, "--org", "f00ff")
    other = create(capsys, "--org", "f00ff")
    status, out, _ = run(capsys, "revoke", key_id(key))
    assert (status, out.strip()) == (0, f"revoked API key {key_id(key)}")
    status, out, _ = run(capsys, "revoke", key_id(key))
    assert status == 0 and "already revoked" in out
    with psycopg.connect(database) as connection:
        revoked = dict(connection.execute("SELECT id, revoked_at IS NOT NULL FROM api_key"))
    assert revoked == {key_id(key): True, key_id(other): False}
    listing = run(capsys, "list")[1].splitlines()
    assert listing[1].split()[-1] != "-"  # the revocation time
    assert listing[2].split()[-1] == "-"


def test_revoke_an_unknown_or_malformed_id_fails(database: str, capsys) -> None:
    status, _, err = run(capsys, "revoke", "0123456789abcdef")
    assert status == 1 and "no API key 0123456789abcdef" in err
    status, _, err = run(capsys, "revoke", "not-an-id")
    assert status == 2 and "16 hex digits" in err


def test_unmigrated_database_says_to_migrate(
    empty_database: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    get_settings.cache_clear()
    try:
        status, _, err = run(capsys, "list")
    finally:
        get_settings.cache_clear()
    assert status == 1 and "simusage migrate" in err
