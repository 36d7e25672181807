"""JDBC URLs and the driver arguments made of them (no server needed)."""

from __future__ import annotations

import pytest

from kflow.connectors.jdbc import (
    ConnectionConfig,
    PostgresTls,
    mysql_connect_args,
    parse_jdbc_url,
    postgres_connect_args,
)
from kflow.errors import TaskError


def test_a_postgres_url_gives_hosts_database_and_parameters() -> None:
    url = parse_jdbc_url("jdbc:postgresql://db.local:6543/shop?sslmode=require&ApplicationName=x")
    assert url.dialect == "postgres"
    assert url.hosts == (("db.local", 6543),)
    assert url.database == "shop"
    assert url.param("SSLMODE") == "require"
    assert url.where == "PostgreSQL at db.local:6543/shop"


def test_default_ports_several_hosts_and_ipv6() -> None:
    assert parse_jdbc_url("jdbc:postgresql://h/db").hosts == (("h", 5432),)
    assert parse_jdbc_url("jdbc:mysql://h").hosts == (("h", 3306),)
    url = parse_jdbc_url("jdbc:postgresql://a:1,[::1]:2/db")
    assert url.hosts == (("a", 1), ("::1", 2))
    assert url.address == "a:1,[::1]:2"


def test_mariadb_urls_are_mysql_urls_named_mariadb() -> None:
    url = parse_jdbc_url("jdbc:mariadb://127.0.0.1:3306/kflow", "mysql")
    assert url.dialect == "mysql"
    assert url.where == "MariaDB at 127.0.0.1:3306/kflow"
    assert parse_jdbc_url("jdbc:mysql://h/db").service == "MySQL"


def test_the_url_of_another_database_or_no_jdbc_url_is_refused_with_the_password_masked() -> None:
    with pytest.raises(TaskError, match=r"is a jdbc:mysql URL; this task needs jdbc:postgresql"):
        parse_jdbc_url("jdbc:mysql://h/db", "postgres")
    with pytest.raises(TaskError) as caught:
        parse_jdbc_url("postgresql://u:secret@h/db?password=secret2", "postgres")
    assert "secret" not in str(caught.value)
    assert "should start with jdbc:postgresql://" in str(caught.value)
    with pytest.raises(TaskError, match="'x1' is not a port"):
        parse_jdbc_url("jdbc:postgresql://h:x1/db")


def test_postgres_arguments_take_the_task_credentials_then_the_url_ones() -> None:
    url = parse_jdbc_url("jdbc:postgresql://h:1/db?user=u&password=p&currentSchema=s")
    args = postgres_connect_args(ConnectionConfig(url))
    assert args["user"] == "u" and args["password"] == "p"
    assert args["options"] == "-c search_path=s"
    assert args["application_name"] == "kflow"
    args = postgres_connect_args(ConnectionConfig(url, "me", "pw"))
    assert (args["user"], args["password"], args["host"], args["port"]) == ("me", "pw", "h", "1")


def test_postgres_tls_settings_map_to_libpq_and_pem_text_becomes_a_private_file() -> None:
    url = parse_jdbc_url("jdbc:postgresql://h/db")
    pem = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----"
    tls = PostgresTls(ssl=True, mode="VERIFY_CA", root_cert=pem, key="/keys/k.pem")
    args = postgres_connect_args(ConnectionConfig(url, tls=tls))
    assert args["sslmode"] == "verify-ca"
    assert args["sslkey"] == "/keys/k.pem"
    with open(args["sslrootcert"]) as handle:
        assert handle.read() == pem + "\n"
    assert postgres_connect_args(ConnectionConfig(url, tls=PostgresTls(ssl=True)))["sslmode"] == (
        "verify-full"
    )


def test_mysql_arguments() -> None:
    url = parse_jdbc_url("jdbc:mysql://h:3307/db?connectTimeout=3000")
    args = mysql_connect_args(ConnectionConfig(url, "u", "p"))
    assert args == {
        "host": "h",
        "port": 3307,
        "charset": "utf8mb4",
        "autocommit": True,
        "connect_timeout": 3,
        "program_name": "kflow",
        "database": "db",
        "user": "u",
        "password": "p",
    }


def test_equal_settings_are_one_pool_key() -> None:
    a = ConnectionConfig(parse_jdbc_url("jdbc:postgresql://h/db"), "u", "p")
    b = ConnectionConfig(parse_jdbc_url("jdbc:postgresql://h/db"), "u", "p")
    c = ConnectionConfig(parse_jdbc_url("jdbc:postgresql://h/db"), "u", "other")
    assert a == b and hash(a) == hash(b)
    assert a != c
