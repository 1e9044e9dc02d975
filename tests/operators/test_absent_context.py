"""A run without a logical date (triggered manually, from the CLI or the REST API) has no ``ds``, ``ts``,
``logical_date``, ``data_interval_*``: the error says so and suggests what renders in every run."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.liquid import LOGICAL_DATE_NAMES
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from airflow_provider_mta.operators.send import SendSmsOperator
from airflow_provider_mta.utils.message_template import render_message
from tests.reliability.helpers import StateStore

RUN_AFTER = dt.datetime(2025, 3, 7, 9, 30, tzinfo=dt.timezone.utc)
LOGICAL = dt.datetime(2025, 3, 6, 0, 0, tzinfo=dt.timezone.utc)


def context(logical_date: dt.datetime | None) -> dict[str, Any]:
    """A task context as Airflow 3 builds it: the logical-date names only when the run has one."""
    dag_run = SimpleNamespace(
        logical_date=logical_date,
        run_after=RUN_AFTER,
        data_interval_start=logical_date,
        data_interval_end=logical_date and logical_date + dt.timedelta(days=1),
    )
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="manual__x", map_index=-1, try_number=1)
    ctx: dict[str, Any] = {"dag_run": dag_run, "params": {}, "ti": ti, "task_state_store": StateStore()}
    if logical_date is not None:
        ctx.update(
            ds=logical_date.strftime("%Y-%m-%d"),
            ds_nodash=logical_date.strftime("%Y%m%d"),
            ts=logical_date.isoformat(),
            logical_date=logical_date,
            data_interval_start=dag_run.data_interval_start,
            data_interval_end=dag_run.data_interval_end,
        )
    return ctx


def env():
    return SendSmsOperator(task_id="env_probe", subscribers=["1"], message="x").get_template_env()


@pytest.mark.parametrize("name", sorted(LOGICAL_DATE_NAMES))
def test_a_logical_date_name_absent_in_this_run_is_named_as_such(name):
    with pytest.raises(MtaValidationError) as info:
        render_message(f"Report {{{{ {name} }}}}", context=context(None), jinja_env=env(), liquid_names={"first"})
    text = str(info.value)
    assert f"{{{{ {name} }}}} is an Airflow context variable, but absent in this run" in text
    assert "a run without a logical date (triggered manually, from the CLI or the REST API)" in text
    assert "neither a recipient property" not in text
    assert LOGICAL_DATE_NAMES[name] in text


@pytest.mark.parametrize(
    ("name", "without", "with_"),
    [
        ("ds", "2025-03-07", "2025-03-06"),
        ("ds_nodash", "20250307", "20250306"),
        ("ts", "2025-03-07T09:30:00+00:00", "2025-03-06T00:00:00+00:00"),
        ("logical_date", "2025-03-07 09:30:00+00:00", "2025-03-06 00:00:00+00:00"),
        ("data_interval_end", "2025-03-07 09:30:00+00:00", "2025-03-07 00:00:00+00:00"),
    ],
)
def test_the_suggestion_renders_in_every_run_and_equals_the_name_when_there_is_a_logical_date(name, without, with_):
    suggestion = LOGICAL_DATE_NAMES[name]
    message = f"Hi {{{{ first }}}}, {suggestion}"
    rendered = render_message(message, context=context(None), jinja_env=env(), liquid_names={"first"})
    assert rendered == f"Hi {{{{ first }}}}, {without}"
    scheduled = context(LOGICAL)
    rendered = render_message(message, context=scheduled, jinja_env=env(), liquid_names={"first"})
    original = render_message(f"{{{{ {name} }}}}", context=scheduled, jinja_env=env(), liquid_names=set())
    assert rendered == f"Hi {{{{ first }}}}, {with_}" and original == with_


def test_the_batch_operator_names_it_too(sandbox):
    op = BatchPersonalizedSmsOperator(
        task_id="batch", rows=[{"phone": "3175551111", "first_name": "Ann"}], message="Hi {{ first_name }} ({{ ds }})"
    )
    ctx = context(None)
    op.render_template_fields(ctx)
    with pytest.raises(MtaValidationError, match=re.escape("{{ ds }} is an Airflow context variable, but absent")):
        op.execute(ctx)
    assert sandbox.messages() == []
