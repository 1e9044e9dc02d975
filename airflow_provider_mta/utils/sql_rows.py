"""Streaming rows from any common.sql (DbApiHook) connection, never holding the whole result.

PostgreSQL gets a server-side (named) cursor, MySQL an unbuffered one where the driver offers it;
other databases are read with ``fetchmany``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import closing, suppress
from typing import Any

from airflow_provider_mta.core.errors import MtaConfigError

DEFAULT_FETCH_SIZE = 5_000


def get_db_hook(conn_id: str, hook_params: Mapping[str, Any] | None = None) -> Any:
    """The DbApiHook of a connection (Postgres, SQLite, MySQL, Snowflake, ...)."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook

    hook = BaseHook.get_hook(conn_id, hook_params=dict(hook_params or {}))
    if not isinstance(hook, DbApiHook):
        raise MtaConfigError(
            f"conn_id: connection {conn_id!r} has a {type(hook).__name__}, not a SQL (common.sql DbApiHook) connection"
        )
    return hook


def iter_sql_rows(
    hook: Any,
    sql: str,
    parameters: Mapping[str, Any] | list[Any] | None = None,
    *,
    fetch_size: int = DEFAULT_FETCH_SIZE,
) -> Iterator[dict[str, Any]]:
    """Yield each result row as ``{column: value}``, reading ``fetch_size`` rows at a time."""
    conn = hook.get_conn()
    try:
        with closing(_cursor(hook, conn, fetch_size)) as cur:
            cur.execute(sql, parameters) if parameters is not None else cur.execute(sql)
            columns: list[str] | None = None
            while True:
                batch = cur.fetchmany(fetch_size)
                if columns is None:
                    columns = [d[0] for d in cur.description or ()]
                if not batch:
                    break
                for values in batch:
                    yield dict(zip(columns, values, strict=False))
    finally:
        with suppress(Exception):
            conn.rollback()  # read only: end the transaction a named cursor needs
        conn.close()


def _cursor(hook: Any, conn: Any, fetch_size: int) -> Any:
    kind = (getattr(hook, "conn_type", None) or getattr(hook, "conn_name_attr", "") or "").lower()
    module = type(conn).__module__
    if "postgres" in kind or module.startswith(("psycopg2", "psycopg")):
        cur = conn.cursor(name="mta_batch_rows")  # server-side: rows stay in PostgreSQL until fetched
        with suppress(AttributeError):
            cur.itersize = fetch_size
        return cur
    if module.startswith("MySQLdb"):
        from MySQLdb.cursors import SSCursor  # type: ignore[import-not-found]

        return conn.cursor(SSCursor)
    if module.startswith("pymysql"):
        from pymysql.cursors import SSCursor as PySSCursor  # type: ignore[import-not-found]

        return conn.cursor(PySSCursor)
    return conn.cursor()
