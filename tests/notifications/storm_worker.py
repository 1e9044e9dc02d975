"""A process that tries to lead one storm-control window (spawned by tests; imports nothing heavy)."""

from __future__ import annotations

from airflow_provider_mta.utils.page_storm_store import PageStormStore


def lead_once(args: tuple[str, str, float]) -> bool:
    kind, where, now = args
    store = PageStormStore(conn_id=where) if kind == "conn" else PageStormStore(path=where)
    try:
        return store.lead("k", now=now, cooldown_s=60)
    finally:
        store.close()
