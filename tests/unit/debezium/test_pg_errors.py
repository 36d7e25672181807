"""psycopg2 errors -> one line naming PostgreSQL and host:port (the servers' own texts)."""

from __future__ import annotations

import psycopg2
import pytest

from kflow.connectors.masking import forget_secrets
from kflow.connectors.postgres import PostgresError, error_line, postgres_errors, settings_from

SETTINGS = settings_from(
    {"hostname": "db.example", "port": "6543", "database": "shop", "password": "hunter2"}, "t"
)


@pytest.fixture(autouse=True)
def _no_secrets() -> None:
    forget_secrets()
    settings_from({"hostname": "h", "database": "d", "password": "hunter2"}, "t")


@pytest.mark.parametrize(
    ("server_text", "line", "retryable"),
    [
        (
            'connection to server at "db.example", port 6543 failed: FATAL:  password '
            'authentication failed for user "kflow"\n',
            'PostgreSQL at db.example:6543: wrong user name or password for user "kflow"',
            False,
        ),
        (
            "FATAL:  must be superuser or replication role to start walsender",
            "PostgreSQL at db.example:6543: the user lacks the REPLICATION privilege "
            "(ALTER ROLE ... WITH REPLICATION)",
            False,
        ),
        (
            "ERROR:  logical decoding requires wal_level >= logical",
            "PostgreSQL at db.example:6543: wal_level is not logical (set wal_level = logical "
            "in postgresql.conf and restart PostgreSQL)",
            False,
        ),
        (
            'connection to server at "db.example" (10.0.0.1), port 6543 failed: Connection '
            "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            "cannot reach PostgreSQL at db.example:6543: connection refused",
            True,
        ),
        (
            "terminating connection due to administrator command\nserver closed the connection "
            "unexpectedly",
            "PostgreSQL at db.example:6543: the server closed the connection",
            True,
        ),
        (
            'ERROR:  replication slot "kestra" is active for PID 4242',
            'PostgreSQL at db.example:6543: the replication slot "kestra" is in use by another '
            "connection (PID 4242): is another kflow reading it?",
            True,
        ),
        (
            'FATAL:  database "shop" does not exist',
            'PostgreSQL at db.example:6543: no database "shop"',
            False,
        ),
        (
            'ERROR:  publication "kestra_publication" does not exist',
            'PostgreSQL at db.example:6543: no publication "kestra_publication" in the database',
            False,
        ),
        (
            "could not connect: password hunter2 rejected",
            "PostgreSQL at db.example:6543: could not connect: password *** rejected",
            True,
        ),
    ],
)
def test_error_lines(server_text: str, line: str, retryable: bool) -> None:
    assert error_line(psycopg2.OperationalError(server_text), SETTINGS) == (line, retryable)


def test_the_boundary_raises_a_postgres_error_with_the_address() -> None:
    with pytest.raises(PostgresError) as caught, postgres_errors(SETTINGS, "trigger 'x': "):
        raise psycopg2.OperationalError("FATAL:  must be superuser or replication role")
    assert str(caught.value).startswith("trigger 'x': PostgreSQL at db.example:6543: the user")
    assert caught.value.address == "db.example:6543" and not caught.value.retryable
    assert PostgresError.service == "PostgreSQL"


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        ({"database": "d"}, "missing hostname"),
        ({"hostname": "h"}, "missing database"),
        ({"hostname": "h", "database": "d", "port": "99999"}, "not a port number"),
    ],
)
def test_bad_settings_say_which(props: dict[str, str], problem: str) -> None:
    with pytest.raises(PostgresError, match=problem):
        settings_from(props, "trigger 't'")


def test_ssl_settings_become_libpq_arguments() -> None:
    settings = settings_from(
        {"hostname": "h", "database": "d", "sslMode": "VERIFY_FULL", "sslRootCert": "/ca.pem"},
        "t",
    )
    args = settings.connect_args()
    assert args["sslmode"] == "verify-full" and args["sslrootcert"] == "/ca.pem"
    assert "TimeZone=UTC" in args["options"]
