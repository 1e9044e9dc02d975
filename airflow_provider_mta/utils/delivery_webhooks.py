"""Feed a delivery tracker the statuses the connection's webhooks stored (one SQL read, no request to the API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_mta.core.delivery import DeliveryRecord, DeliveryStatus, Outcome

if TYPE_CHECKING:
    from airflow_provider_mta.core.delivery_tracker import DeliveryTracker
    from airflow_provider_mta.utils.sms_event_store import StoredEvent

DEFAULT_WEBHOOK_GRACE_S = 300.0
"""How long the delivery sensor trusts webhooks before it asks the API about a message it heard nothing of."""


def record_of(event: StoredEvent) -> DeliveryRecord:
    """A stored delivery event as the tracker's record (MTA's status names get their numeric code back)."""
    name = (event.status or "NO_STATUS").upper()
    if event.provider == "mta":
        from airflow_provider_mta.backends.mta.deliveries import classify

        status = classify(name)
    else:
        status = DeliveryStatus(None, name, Outcome(event.outcome or "pending"))
    outbound: int | str | None = event.outbound_id
    if isinstance(outbound, str) and outbound.isdigit():
        outbound = int(outbound)
    return DeliveryRecord(outbound, event.message_id, event.masked, status)


def refresh_from_webhooks(tracker: DeliveryTracker, *, conn_id: str, store_conn_id: str | None) -> int:
    """Apply the latest stored event of each watched outbound id; returns how many statuses changed."""
    from airflow_provider_mta.utils.sms_event_store import SmsEventStore

    watched = tracker.watched_outbound_ids()
    if not watched:
        return 0
    store = SmsEventStore(conn_id=store_conn_id)
    try:
        found = store.latest_deliveries(conn_id=conn_id, outbound_ids=[str(i) for i in watched])
    finally:
        store.close()
    records = {}
    for event in found.values():
        record = record_of(event)
        if record.outbound_id is not None:
            records[record.outbound_id] = record
    return tracker.apply_events(records)


def webhooks_configured(conn_id: str) -> tuple[bool, str | None]:
    """Whether ``conn_id`` has a webhook secret (so its events arrive), and its event store's connection."""
    from airflow.sdk import BaseHook

    from airflow_provider_mta.webhooks.receive import webhook_secret_of

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    return webhook_secret_of(conn) is not None, (extra.get("webhook_store_conn_id") or None)
