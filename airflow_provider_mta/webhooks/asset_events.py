"""The Airflow assets that SMS events update, and writing their events (in the API server, which has the DB).

One asset per SMS connection and event kind: ``sms_event_asset("mta_default", "reply")`` is
``Asset(name="sms_reply__mta_default", uri="sms://mta_default/reply", group="sms")``. A DAG scheduled on it
runs when a verified reply arrives; the asset event's ``extra`` is :meth:`SmsEvent.asset_extra` (number
masked). Events of an asset that no DAG declares are stored for the sensors but make no asset event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_mta.core.sms_event import EVENT_KINDS

if TYPE_CHECKING:
    from airflow.sdk import Asset

    from airflow_provider_mta.core.sms_event import SmsEvent

log = logging.getLogger("airflow_provider_mta.webhooks")


def asset_name(conn_id: str, kind: str) -> str:
    """``sms_<kind>__<conn_id>``: the asset's name (unique per connection and kind)."""
    return f"sms_{kind}__{conn_id}"


def sms_event_asset(conn_id: str, kind: str) -> Asset:
    """The asset that each verified ``kind`` event (delivery, reply, opt_out, opt_in) of ``conn_id`` updates."""
    from airflow.sdk import Asset

    if kind not in EVENT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}, not {kind!r}")
    return Asset(name=asset_name(conn_id, kind), uri=f"sms://{conn_id}/{kind}", group="sms")


def emit_asset_events(*, conn_id: str, events: Iterable[SmsEvent], session: Any = None) -> int:
    """Record one asset event per event whose asset some DAG declares; returns how many were recorded."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    recorded = 0
    with create_session() as own:
        db = session or own
        models: dict[str, Any] = {}
        for event in events:
            name = asset_name(conn_id, event.kind)
            if name not in models:
                models[name] = db.scalar(select(AssetModel).where(AssetModel.name == name).limit(1))
            model = models[name]
            if model is None:
                continue
            if asset_manager.register_asset_change(asset=model, extra=event.asset_extra(), session=db) is not None:
                recorded += 1
    return recorded
