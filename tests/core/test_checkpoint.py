"""The batch checkpoint: recording confirmed chunks, resuming, refusing to guess when the source changed."""

from __future__ import annotations

import pytest

from airflow_provider_mta.core.checkpoint import Checkpoint, MtaSourceChangedError, resume_point


class Store:
    description = "test store"


def test_round_trips_through_json_and_ignores_unknown_versions():
    cp = Checkpoint(fingerprint="f", chunk_size=2, chunks=3, recipients=5, started_try=1)
    cp.record(sent=2, message_id="m1", outbound_ids=[1, 2], already=False, keep_ids=10)
    assert Checkpoint.from_json(cp.to_json()) == cp
    assert Checkpoint.from_json({**cp.to_json(), "version": 99}) is None
    assert Checkpoint.from_json("garbage") is None


def test_outbound_ids_are_dropped_once_there_are_too_many_or_a_409_did_not_list_them():
    cp = Checkpoint(fingerprint="f", chunk_size=2, chunks=3, recipients=5)
    cp.record(sent=2, message_id="m1", outbound_ids=[1, 2], already=False, keep_ids=3)
    assert cp.outbound_ids == [1, 2]
    cp.record(sent=2, message_id="m2", outbound_ids=[3, 4], already=False, keep_ids=3)
    assert cp.outbound_ids is None and cp.message_ids == ["m1", "m2"] and cp.confirmed == 2 and cp.sent == 4
    cp2 = Checkpoint(fingerprint="f", chunk_size=2, chunks=2, recipients=4)
    cp2.record(sent=2, message_id=None, outbound_ids=[], already=True, keep_ids=10)
    assert cp2.outbound_ids is None and cp2.already_sent_chunks == 1


def test_resume_point_returns_the_stored_checkpoint_for_the_same_fingerprint():
    cp = Checkpoint(fingerprint="f", chunk_size=2, chunks=3, recipients=5, confirmed=1, started_try=1)
    assert resume_point(None, fingerprint="f", store=Store()) is None
    assert resume_point(cp, fingerprint="f", store=Store()) is cp


def test_a_changed_source_fails_clearly_and_names_the_way_out():
    cp = Checkpoint(fingerprint="old", chunk_size=2, chunks=3, recipients=5, confirmed=1, sent=2, started_try=1)
    with pytest.raises(MtaSourceChangedError) as err:
        resume_point(cp, fingerprint="new", store=Store())
    assert "earlier try (try 1), which had confirmed 1 of 3 chunk(s) (2 recipient(s))" in str(err.value)
    assert "Not guessing" in str(err.value) and "delete the checkpoint (test store)" in str(err.value)


def test_per_recipient_progress_round_trips_and_closes_with_the_chunk():
    from airflow_provider_mta.core.outgoing import SendResult

    cp = Checkpoint(fingerprint="f", chunk_size=3, chunks=1, recipients=3)
    cp.in_flight = True
    cp.record_recipient(SendResult(provider="telnyx", total_sent=1, outbound_ids=["a1b2c3d4-0001"]), keep_ids=10)
    assert (cp.in_chunk, cp.in_flight, cp.sent, cp.confirmed) == (1, False, 1, 0)
    cp.in_flight = True
    stored = Checkpoint.from_json(cp.to_json())
    assert stored is not None and stored.in_flight and stored.in_chunk == 1
    stored.record_unknown("***0002")
    stored.record_recipient(SendResult(provider="telnyx", opted_out=["***0003"]), keep_ids=10)
    assert (stored.in_chunk, stored.unknown, stored.unknown_recipients) == (3, 1, ["***0002"])
    assert (stored.opted_out_at_send, stored.sent, stored.outbound_ids) == (1, 1, ["a1b2c3d4-0001"])
    stored.record(sent=0, message_id=None, outbound_ids=[], already=False, keep_ids=10)
    assert (stored.confirmed, stored.in_chunk, stored.in_flight) == (1, 0, False)


def test_outcomes_of_a_send_are_counted_and_at_most_50_named():
    from airflow_provider_mta.core.outgoing import SendResult

    cp = Checkpoint(fingerprint="f", chunk_size=100, chunks=1, recipients=100)
    failures = [{"recipient": f"***{i:04d}", "reason": "40310 invalid to"} for i in range(60)]
    cp.record_outcomes(SendResult(unknown=[f"***{i:04d}" for i in range(70)], failures=failures))
    assert (cp.unknown, len(cp.unknown_recipients), cp.failed, len(cp.failures)) == (70, 50, 60, 50)
