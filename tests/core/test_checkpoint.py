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
