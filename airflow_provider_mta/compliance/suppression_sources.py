"""Building a send's :class:`SuppressionList` from what the task names: a list, a query, the opt-out table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.suppression import SuppressionList, suppression_values


def load_suppression(
    *,
    suppress: Any = None,
    suppress_sql: str | None = None,
    suppress_conn_id: str | None = None,
    opt_out_conn_id: str | None = None,
    opt_out_table: str | None = None,
    region: str | None,
    phone_column: str = "phone",
) -> SuppressionList | None:
    """Every opted-out recipient the task can know of, or None when it names no source.

    A source that cannot be read (a failing query, an unreachable database, a value that is not a
    list) raises naming the parameter, before anything is sent.
    """
    if suppress is None and suppress_sql is None and opt_out_conn_id is None:
        return None
    found = SuppressionList()
    if suppress is not None:
        found.add(
            suppression_values(suppress, field_name="suppress"),
            source="suppress",
            region=region,
            phone_column=phone_column,
        )
    if suppress_sql is not None:
        if not suppress_conn_id:
            raise MtaValidationError(
                "suppress_sql: needs suppress_conn_id (a common.sql connection)", field="suppress_sql"
            )
        found.add(_query(suppress_sql, suppress_conn_id), source=f"suppress_sql on {suppress_conn_id!r}", region=region)
    if opt_out_conn_id is not None:
        from airflow_provider_mta.compliance.opt_out_table import DEFAULT_TABLE, OptOutTable

        table = OptOutTable(conn_id=opt_out_conn_id, table=opt_out_table or DEFAULT_TABLE)
        found.add(table.recipients(), source=f"{table.table} on {opt_out_conn_id!r}", region=region)
    return found


def _query(sql: str, conn_id: str) -> Iterator[tuple[Any, ...]]:
    """The query's rows (first column: the recipient), streamed; a failure names ``suppress_sql``."""
    from airflow_provider_mta.utils.sql_rows import get_db_hook, iter_sql_rows

    try:
        for row in iter_sql_rows(get_db_hook(conn_id), sql):
            yield tuple(row.values())
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise MtaValidationError(
            f"suppress_sql: the query on connection {conn_id!r} failed ({type(exc).__name__}: {first}); "
            "nothing was sent",
            field="suppress_sql",
        ) from None
