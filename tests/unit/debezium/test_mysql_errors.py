"""MariaDB/MySQL driver errors as one line naming the server (never the password)."""

from __future__ import annotations

from typing import Any

import pymysql
import pytest

from kflow.connectors.mysql import MysqlError, MysqlSettings, check_binlog, error_line, mysql_errors

SETTINGS = MysqlSettings("db.example", 3307, "cdc", "hunter2")


def test_a_wrong_password_is_not_retryable_and_names_the_server() -> None:
    exc = pymysql.err.OperationalError(1045, "Access denied for user 'cdc'@'10.0.0.1'")
    line, retryable = error_line(exc, SETTINGS)
    assert line.startswith("MariaDB/MySQL at db.example:3307 refused user 'cdc'")
    assert "wrong user name or password" in line and not retryable


def test_a_missing_privilege_says_which_grants() -> None:
    exc = pymysql.err.OperationalError(1227, "Access denied; you need REPLICATION SLAVE")
    line, retryable = error_line(exc, SETTINGS)
    assert "lacks a privilege" in line and "REPLICATION SLAVE" in line and not retryable


def test_a_purged_position_points_at_when_needed() -> None:
    exc = pymysql.err.OperationalError(1236, "Could not find first log file name")
    line, retryable = error_line(exc, SETTINGS)
    assert "WHEN_NEEDED" in line and not retryable


def test_a_lost_connection_is_retryable() -> None:
    exc = pymysql.err.OperationalError(2013, "Lost connection to server during query")
    line, retryable = error_line(exc, SETTINGS)
    assert line.startswith("cannot reach MariaDB/MySQL at db.example:3307") and retryable


def test_the_block_translates_and_masks() -> None:
    from kflow.connectors.masking import register_secret

    register_secret("hunter2")
    with pytest.raises(MysqlError) as info, mysql_errors(SETTINGS, "mysql trigger 't': "):
        raise pymysql.err.OperationalError(2003, "cannot connect with hunter2")
    assert "hunter2" not in str(info.value) and info.value.retryable
    assert str(info.value).startswith("mysql trigger 't': cannot reach MariaDB/MySQL")


class _Cursor:
    """The answers of a server to check_binlog's two queries (pure logic under test)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.last = ""

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str) -> None:
        self.last = sql

    def fetchone(self) -> dict[str, Any]:
        return self.answers["vars"]

    def fetchall(self) -> list[dict[str, Any]]:
        return [{"g": g} for g in self.answers["grants"]]


class _Conn:
    def __init__(self, **answers: Any) -> None:
        self.answers = answers

    def cursor(self) -> _Cursor:
        return _Cursor(self.answers)


def variables(**kw: Any) -> dict[str, Any]:
    base = {"log_bin": 1, "binlog_format": "ROW", "row_image": "FULL", "version": "10.11.6-MariaDB"}
    return {**base, "server_id": 1, **kw}


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        ({"vars": variables(log_bin=0)}, "has no binary log"),
        ({"vars": variables(binlog_format="MIXED")}, "binlog_format=MIXED"),
        ({"vars": variables(row_image="MINIMAL")}, "binlog_row_image=MINIMAL"),
    ],
)
def test_check_binlog_refuses_what_cannot_be_captured(answers: dict[str, Any], words: str) -> None:
    with pytest.raises(MysqlError) as info:
        check_binlog(_Conn(grants=["GRANT ALL PRIVILEGES ON *.* TO x"], **answers), SETTINGS)
    line = str(info.value)
    assert words in line and "db.example:3307" in line and "\n" not in line
    assert not info.value.retryable


def test_check_binlog_wants_replication_slave() -> None:
    conn = _Conn(vars=variables(), grants=["GRANT SELECT ON `shop`.* TO `cdc`@`%`"])
    with pytest.raises(MysqlError, match="REPLICATION SLAVE"):
        check_binlog(conn, SETTINGS)
    ok = _Conn(vars=variables(), grants=["GRANT REPLICATION SLAVE, SELECT ON *.* TO `cdc`@`%`"])
    assert check_binlog(ok, SETTINGS)["mariadb"] is True
