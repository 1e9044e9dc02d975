"""The Base URL field as people type it (the Airflow UI hides Port, so ``host:port`` lands in it)."""

from __future__ import annotations

import pytest
from airflow.sdk import Connection

from airflow_provider_mta.hooks.mta import MtaHook
from airflow_provider_mta.hooks.telnyx import TelnyxHook

SHAPES = [
    # (Base URL field, port, schema) -> expected with the default path {path}
    (("127.0.0.1:8789", None, None), "http://127.0.0.1:8789/{path}"),
    (("localhost:8789", None, None), "http://localhost:8789/{path}"),
    (("LOCALHOST:8789", None, None), "http://LOCALHOST:8789/{path}"),
    (("[::1]:8789", None, None), "http://[::1]:8789/{path}"),
    (("http://127.0.0.1:8789", None, None), "http://127.0.0.1:8789/{path}"),
    (("http://127.0.0.1:8789/", None, None), "http://127.0.0.1:8789/{path}"),
    (("http://127.0.0.1:8789/custom/", None, None), "http://127.0.0.1:8789/custom"),
    (("api.example.com", None, None), "https://api.example.com/{path}"),
    (("https://api.example.com", None, None), "https://api.example.com/{path}"),
    (("api.example.com/api/v9", None, None), "https://api.example.com/api/v9"),
    (("https://api.mobile-text-alerts.com/v3/", None, None), "https://api.mobile-text-alerts.com/v3"),
    (("127.0.0.1", 8787, None), "http://127.0.0.1:8787/{path}"),
    (("http://127.0.0.1", 8787, None), "http://127.0.0.1:8787/{path}"),
    (("127.0.0.1:8789", 8787, None), "http://127.0.0.1:8789/{path}"),  # the port typed in the field wins
    (("localhost", 8787, "vX"), "http://localhost:8787/vX"),  # mta://:k@localhost:8787/vX
]


@pytest.mark.parametrize(("hook", "path"), [(MtaHook, "v3"), (TelnyxHook, "v2")], ids=["mta", "telnyx"])
@pytest.mark.parametrize(("field", "expected"), SHAPES, ids=[shape[0][0] for shape in SHAPES])
def test_base_url_shapes(hook, path, field, expected):
    host, port, schema = field
    conn = Connection(conn_id="x", conn_type=hook.conn_type, host=host, port=port, schema=schema)
    assert hook.base_url_of(conn) == expected.format(path=path)


@pytest.mark.parametrize("hook", [MtaHook, TelnyxHook], ids=["mta", "telnyx"])
def test_an_empty_field_is_the_public_api(hook):
    assert hook.base_url_of(Connection(conn_id="x", conn_type=hook.conn_type)) == hook.default_base_url
