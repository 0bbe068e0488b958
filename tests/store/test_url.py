"""The store URL: what is allowed, what each part means, and one line naming what is allowed for anything else,
never with the password in it."""

from __future__ import annotations

import pytest

from sightline.cli import main
from sightline.settings import Settings
from sightline.store.url import ServerUrl, parse_store_url


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("chdb://", None),
        ("clickhouse://h", ServerUrl("h", 8123, "default", "default", "")),
        ("clickhouses://h", ServerUrl("h", 8443, "default", "default", "", tls=True)),
        (
            "clickhouse://ana:p%40ss%3Aword@db.example:9123/qoe?cluster=main&connect_timeout=2.5",
            ServerUrl("db.example", 9123, "qoe", "ana", "p@ss:word", cluster="main", connect_timeout_s=2.5),
        ),
        ("clickhouses://u:p@[::1]:8443/x?verify=0", ServerUrl("::1", 8443, "x", "u", "p", tls=True, verify=False)),
    ],
)
def test_allowed_urls(text: str, parsed: ServerUrl | None) -> None:
    assert parse_store_url(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bad://u:secret@h", "store_url of scheme 'bad' is not allowed; use chdb://"),
        ("postgresql://u:secret@h/db", "scheme 'postgresql' is not allowed"),
        ("no scheme secret", "scheme 'this' is not allowed"),
        ("clickhouse://", "scheme 'clickhouse' is not allowed"),
        ("chdb:///var/data", "chdb:// takes nothing after it"),
        ("clickhouse://u:secret@h:http/db", "no valid port"),
        ("clickhouse://u:secret@h/db;drop", "database 'db;drop' is not a name"),
        ("clickhouse://u:secret@h/db?cluster=a%20b", "cluster 'a b' is not a name"),
        ("clickhouse://u:secret@h/db?timeout=1", "option 'timeout' is not known"),
        ("clickhouse://u:secret@h/db?connect_timeout=0", "connect_timeout '0' is not a number of seconds"),
        ("clickhouse://u:secret@h/db?verify=no", "verify 'no' is not 0 or 1"),
    ],
)
def test_anything_else_is_one_line_naming_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_store_url(text)
    assert "secret" not in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_password_is_in_no_repr_and_no_redacted_url() -> None:
    url = parse_store_url("clickhouse://ana:secret@h:8123/qoe")
    assert isinstance(url, ServerUrl)
    assert "secret" not in repr(url)
    assert url.redacted() == "clickhouse://ana@h:8123/qoe"
    with pytest.raises(ValueError, match="is not allowed") as refused:
        Settings(store_url="bad://ana:secret@h")
    assert "secret" not in str(refused.value)


def test_a_bad_url_stops_the_command_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--store-url", "bad://ana:secret@h"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("sightline: store_url of scheme 'bad' is not allowed; use chdb://")
    assert error.count("\n") == 1
    assert "secret" not in error
