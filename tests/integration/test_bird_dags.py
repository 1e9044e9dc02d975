"""The operators on a ``bird`` connection under `airflow dags test`, against the sandbox's Bird routes."""

from __future__ import annotations

import collections
import re

import pytest

from tests.conftest import API_KEY

pytestmark = pytest.mark.integration


def bird_texts(sandbox) -> list[tuple[str, str]]:
    return [(row["to"], row["text"]) for row in sandbox.messages(provider="bird")]


def test_send_batch_and_deferrable_sensor_on_bird(run_dag, sandbox):
    result = run_dag("mta_it_bird")
    assert result.succeeded, result.log[-4000:]
    ours = "\n".join(line for line in result.log.splitlines() if "Returned value was" not in line)  # not the rows task
    assert API_KEY not in result.log and not re.search(r"\+1317556\d{4}", ours)
    texts = bird_texts(sandbox)
    counts = collections.Counter(to for to, _ in texts)
    assert len(counts) == 302 and set(counts.values()) == {1}  # everyone texted, nobody twice
    assert ("+13175561007", "Hi Cust7, your code is ready") in texts
    assert ("+13175561299", "Hi Cust299, your code is ready") in texts
    assert all(text.startswith("Run manual__") for to, text in texts if to.startswith("+131755509"))
    assert sandbox.messages(provider="mta") == [] and sandbox.messages(provider="telnyx") == []
    out = result.out
    assert out["send"]["provider"] == "bird" and out["send"]["total_sent"] == 2
    batch = out["batch"]
    assert (batch["provider"], batch["sent"], batch["chunks"], batch["unknown"]) == ("bird", 300, 3, 0)
    assert len(batch["outbound_ids"]) == 300 and batch["message_ids"] == []
    assert (out["wait"]["state"], out["wait"]["total"]) == ("success", 300)


def test_dropped_answers_leave_nobody_texted_twice(run_dag, sandbox):
    sandbox.fault("drop_after_commit", count=3, after=60, provider="bird")
    result = run_dag("mta_it_bird", env={"MTA_IT_ROWS": "120"})
    texts = bird_texts(sandbox)
    counts = collections.Counter(to for to, _ in texts)
    assert len(counts) == 122 and set(counts.values()) == {1}, result.log[-3000:]
    batch = result.out["batch"]
    # Each dropped answer: the text went out once, the client did not resend, and the batch says it cannot know.
    assert (batch["sent"], batch["unknown"], len(batch["unknown_recipients"])) == (117, 3, 3), batch
    assert all(r.startswith("***") for r in batch["unknown_recipients"])
    assert "may or may not have been texted" in result.log
