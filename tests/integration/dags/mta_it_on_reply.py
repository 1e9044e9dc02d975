"""Scheduled on the reply asset of connection ``mta_hooks``: runs when a verified reply arrives."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from airflow_provider_mta.webhooks.asset_events import sms_event_asset


@dag(schedule=[sms_event_asset("mta_hooks", "reply")], start_date=dt.datetime(2026, 1, 1), catchup=False)
def mta_it_on_reply() -> None:
    @task
    def read_the_reply(*, triggering_asset_events: dict | None = None) -> None:
        for events in (triggering_asset_events or {}).values():
            for event in events:
                print("reply event:", event.extra)

    read_the_reply()


mta_it_on_reply()
