"""A few tables of the provider's own shared state in SQL: a common.sql connection, or a SQLite file.

:class:`SqlStateStore` opens one DB-API connection to any common.sql connection (``conn_id``: PostgreSQL,
MySQL, the Airflow metadata database's own server...) or, by default, to a SQLite file in ``$AIRFLOW_HOME``
that every process on this machine shares, creates its subclass's tables (:attr:`SqlStateStore.ddl`) on
first use, and runs each statement in its own transaction. Subclasses add the statements.
"""

from __future__ import annotations

import os
import threading
from typing import Any, ClassVar, TypeVar

from airflow_provider_mta.core.errors import MtaConfigError

_Store = TypeVar("_Store", bound="SqlStateStore")


class SqlStateStore:
    """One DB-API connection to the subclass's tables (use from one thread at a time; ``clone`` for another)."""

    ddl: ClassVar[tuple[str, ...]] = ()
    default_file: ClassVar[str] = "mta_state.sqlite"
    label: ClassVar[str] = "state"  # names the feature in errors: "cannot open its state on ..."

    def __init__(self, *, conn_id: str | None = None, path: str | None = None) -> None:
        self.conn_id = conn_id
        self.path = path if path or conn_id else airflow_home_file(self.default_file)
        self._conn: Any = None
        self._mark = "?"
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = f"conn_id={self.conn_id!r}" if self.conn_id else f"path={self.path!r}"
        return f"{type(self).__name__}({where})"

    def connect(self: _Store) -> _Store:
        """Open the connection and create the tables when missing (before handing the store to a thread)."""
        if self._conn is not None:
            return self
        try:
            if self.conn_id:
                from airflow_provider_mta.utils.sql_rows import get_db_hook

                hook = get_db_hook(self.conn_id)
                self._mark = getattr(hook, "placeholder", None) or "%s"
                self._conn = _shareable(hook.get_conn())
            else:
                import sqlite3

                os.makedirs(os.path.dirname(os.path.abspath(str(self.path))), exist_ok=True)
                self._conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
                # WAL: readers never wait for the writer, and a commit costs no fsync of the whole file
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            for statement in self.ddl:
                self._execute(statement, ())
        except MtaConfigError:
            raise
        except Exception as exc:
            raise MtaConfigError(
                f"{self.label}: cannot open its state on {self!r}: {type(exc).__name__}: {exc}"
            ) from None
        return self

    def clone(self: _Store) -> _Store:
        """A store of the same tables with its own connection, opened now (in the calling thread)."""
        return type(self)(conn_id=self.conn_id, path=self.path).connect()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _execute(self, sql: str, params: tuple[Any, ...], *, quiet: bool = False) -> int:
        """Run one statement in its own transaction; with ``quiet`` a constraint violation counts 0 rows."""
        self.connect()
        with self._lock:
            cursor = self._conn.cursor()
            try:
                cursor.execute(sql.replace("{p}", self._mark), params)
                count = cursor.rowcount
                self._conn.commit()
                return int(count)
            except Exception as exc:
                self._conn.rollback()
                if quiet and _is_constraint_violation(exc):
                    return 0
                raise
            finally:
                cursor.close()

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        self.connect()
        with self._lock:
            cursor = self._conn.cursor()
            try:
                cursor.execute(sql.replace("{p}", self._mark), params)
                rows = [tuple(row) for row in cursor.fetchall()]
                self._conn.commit()
                return rows
            finally:
                cursor.close()


def _shareable(conn: Any) -> Any:
    """A DB-API connection the digest thread may use: sqlite3's are reopened without the same-thread check
    (common.sql's SqliteHook opens them with it); other drivers' connections may change threads as they are."""
    import sqlite3

    if not isinstance(conn, sqlite3.Connection):
        return conn
    files = [row[2] for row in conn.execute("PRAGMA database_list").fetchall() if row[1] == "main"]
    if not files or not files[0]:
        return conn  # an in-memory database: no other process could see it anyway
    conn.close()
    return sqlite3.connect(files[0], timeout=30, check_same_thread=False)


def airflow_home_file(name: str) -> str:
    """``$AIRFLOW_HOME/<name>``: shared by every worker process on this machine."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(home, name)


def _is_constraint_violation(exc: Exception) -> bool:
    """A duplicate key, whatever the driver calls it (sqlite3/psycopg2 ``IntegrityError``, MySQL's, ...)."""
    return "integrity" in type(exc).__name__.lower() or "unique" in str(exc).lower() or "duplicate" in str(exc).lower()
