"""The operators on a ``telnyx`` connection under `airflow dags test`, against the sandbox's /v2."""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_mta.sandbox.testing import SandboxServer
from tests.conftest import API_KEY, use_sandbox

pytestmark = pytest.mark.integration
DELAY_S = 15.0  # messages stay pending this long, so the deferrable sensor really defers


@pytest.fixture(scope="module")
def slow_sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(api_keys=(API_KEY,), delivery_delay_s=DELAY_S) as server:
        yield server


@pytest.fixture
def sandbox(slow_sandbox_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    return use_sandbox(slow_sandbox_server, monkeypatch)


def telnyx_texts(sandbox) -> list[tuple[str, str]]:
    return [(row["to"], row["text"]) for row in sandbox.messages(provider="telnyx")]


def test_send_batch_and_deferrable_sensor_on_telnyx(run_dag, sandbox):
    result = run_dag("mta_it_telnyx")
    assert result.succeeded, result.log[-4000:]
    ours = "\n".join(line for line in result.log.splitlines() if "Returned value was" not in line)  # not the rows task
    assert API_KEY not in result.log and not re.search(r"\+1317556\d{4}", ours)
    texts = telnyx_texts(sandbox)
    counts = collections.Counter(to for to, _ in texts)
    assert len(counts) == 302 and set(counts.values()) == {1}  # everyone texted, nobody twice
    assert ("+13175561007", "Hi Cust7, your code is ready") in texts
    assert all(text.startswith("Run manual__") for to, text in texts if to.startswith("+131755509"))
    assert sandbox.messages(provider="mta") == []
    out = result.out
    assert out["send"]["provider"] == "telnyx" and out["send"]["total_sent"] == 2
    batch = out["batch"]
    assert (batch["provider"], batch["sent"], batch["chunks"], batch["unknown"]) == ("telnyx", 300, 3, 0)
    assert len(batch["outbound_ids"]) == 300 and batch["message_ids"] == []
    assert (out["wait"]["state"], out["wait"]["delivered"], out["wait"]["total"]) == ("success", 300, 300)
    assert "[DAG TEST] running trigger in line" in result.log


def test_dropped_answers_leave_nobody_texted_twice(run_dag, sandbox):
    sandbox.fault("drop_after_commit", count=3, after=60, provider="telnyx")
    result = run_dag("mta_it_telnyx", env={"MTA_IT_ROWS": "120"})
    texts = telnyx_texts(sandbox)
    counts = collections.Counter(to for to, _ in texts)
    assert len(counts) == 122 and set(counts.values()) == {1}, result.log[-3000:]
    batch = result.out["batch"]
    # Each dropped answer: the text went out once, the client did not resend, and the batch says it cannot know.
    assert (batch["sent"], batch["unknown"], len(batch["unknown_recipients"])) == (117, 3, 3), batch
    assert all(r.startswith("***") for r in batch["unknown_recipients"])
    assert "may or may not have been texted" in result.log
