"""``partition=(index, count)``: eight tasks over one SQLite table text every distinct number exactly once.

The table has customers who share a number with another customer, written another way. Splitting on
``mod(customer_id, 8)`` (the docs' old example) texts most of them twice, because duplicates are only
merged inside a task; ``partition=`` puts both rows in the partition of their E.164 number.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_mta.core.errors import MtaValidationError
from airflow_provider_mta.core.partition import check_partition, partition_of
from airflow_provider_mta.core.phones import normalize_recipient
from airflow_provider_mta.operators.batch import BatchPersonalizedSmsOperator
from tests.conftest import mta_conn_json
from tests.reliability.helpers import StateStore

CUSTOMERS = 10_000
SHARED = 200  # customers whose number is another customer's, written another way
PARTS = 8
FORMATS = ("({a}) {e}-{l}", "{a}.{e}.{l}", "1-{a}-{e}-{l}", "+1 {a} {e} {l}")


def e164(i: int) -> str:
    return f"+1317{5550000 + i:07d}"


def written_otherwise(number: str, style: int) -> str:
    digits = number[2:]
    return FORMATS[style % len(FORMATS)].format(a=digits[:3], e=digits[3:6], l=digits[6:])


@pytest.fixture(scope="module")
def customers_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ids 1..9,800 with distinct numbers (E.164); ids 9,801..10,000 repeat one of them in another format."""
    path = tmp_path_factory.mktemp("partition") / "customers.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, phone TEXT, first_name TEXT)")
    distinct = CUSTOMERS - SHARED
    rows = [(i + 1, e164(i), f"C{i + 1}") for i in range(distinct)]
    shared = random.Random(7).sample(range(distinct), SHARED)  # whose number each later customer repeats
    rows += [(distinct + k + 1, written_otherwise(e164(i), k), f"Shared{k}") for k, i in enumerate(shared)]
    db.executemany("INSERT INTO customers VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()
    return path


@pytest.fixture
def customers(customers_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_CONN_CUSTOMERS_DB", json.dumps({"conn_type": "sqlite", "host": str(customers_db)}))
    return customers_db


def context(store: StateStore, map_index: int = -1, try_number: int = 1) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", task_id="batch", run_id="r1", map_index=map_index, try_number=try_number)
    return {"ds": "2025-03-06", "ti": ti, "task_state_store": store}


def run(ctx: dict[str, Any], **kw: Any) -> dict[str, Any]:
    op = BatchPersonalizedSmsOperator(task_id="batch", **{"message": "Hi {{ first_name }}", "chunk_size": 500, **kw})
    op.render_template_fields(ctx)
    return op.execute(ctx)


def texted(sandbox: Any) -> Counter[str]:
    return Counter(m["to"] for m in sandbox.messages())


def test_partitions_text_every_distinct_number_exactly_once(sandbox: Any, customers: Path) -> None:
    store = StateStore()  # shared on purpose: each partition keeps its own checkpoint key
    results = [
        run(
            context(store, map_index=i),
            conn_id="customers_db",
            sql="SELECT phone, first_name FROM customers ORDER BY customer_id",
            partition=(i, PARTS),
        )
        for i in range(PARTS)
    ]
    counts = texted(sandbox)
    assert [to for to, n in counts.items() if n > 1] == []
    assert set(counts) == {e164(i) for i in range(CUSTOMERS - SHARED)}
    assert sum(r["sent"] for r in results) == CUSTOMERS - SHARED
    assert sum(r["duplicates"] for r in results) == SHARED  # merged inside the partition that owns the number
    assert all(r["rows"] == CUSTOMERS for r in results)  # each task reads every row ...
    assert sum(r["rows"] - r["other_partitions"] for r in results) == CUSTOMERS  # ... and owns one share of them
    assert all(r["recipients"] > 0 for r in results)
    assert all(r["skipped"] == r["duplicates"] for r in results)  # other partitions' rows are not "skipped"
    assert sorted(store) == [f"mta_batch_checkpoint__partition_{i}_of_{PARTS}" for i in range(PARTS)]
    assert all(store[key]["completed"] for key in store)


def test_a_mod_customer_id_split_texts_shared_numbers_twice(sandbox: Any, customers: Path) -> None:
    """The split the docs used to show: the test above would fail with it."""
    for part in range(PARTS):
        run(
            context(StateStore(), map_index=part),
            conn_id="customers_db",
            sql="SELECT phone, first_name FROM customers WHERE customer_id % ? = ? ORDER BY customer_id",
            parameters=[PARTS, part],
        )
    twice = {to for to, n in texted(sandbox).items() if n > 1}
    db = sqlite3.connect(customers)
    ids_of: dict[str, set[int]] = {}
    for customer_id, phone in db.execute("SELECT customer_id, phone FROM customers"):
        ids_of.setdefault(normalize_recipient(phone), set()).add(customer_id % PARTS)
    db.close()
    assert twice == {number for number, parts in ids_of.items() if len(parts) > 1}
    assert len(twice) > SHARED // 2  # about 7 in 8 of the shared numbers land in two partitions


def test_invalid_rows_are_counted_by_exactly_one_partition(sandbox: Any) -> None:
    rows = [{"phone": e164(i), "first_name": f"P{i}"} for i in range(60)]
    bad = ["nope", "12", "", None, "+1 555", "x@y", "(317) 555-01"]
    rows += [{"phone": raw, "first_name": "Bad"} for raw in bad]
    results = [run(context(StateStore()), rows=rows, on_invalid="skip", partition=(i, 4)) for i in range(4)]
    assert sum(r["invalid"] for r in results) == len(bad)
    assert sum(r["sent"] for r in results) == 60
    assert all(r["rows"] - r["other_partitions"] == r["recipients"] + r["invalid"] for r in results)
    assert sorted(texted(sandbox).values()) == [1] * 60

    # on_invalid="fail": the partitions that own a bad row fail naming it and send nothing; the others send.
    sandbox.reset()
    owners = {partition_of(str(raw).strip() if raw is not None else "", 4) for raw in bad}
    for i in range(4):
        if i in owners:
            with pytest.raises(MtaValidationError, match=r"row\(s\) of this partition \(67 read\) have no valid"):
                run(context(StateStore()), rows=rows, partition=(i, 4))
        else:
            assert run(context(StateStore()), rows=rows, partition=(i, 4))["invalid"] == 0
    assert sum(texted(sandbox).values()) == sum(1 for i in range(60) if partition_of(e164(i), 4) not in owners)


def test_a_partition_resumes_from_its_own_checkpoint(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MTA_DEFAULT", mta_conn_json(sandbox.base_url, send_rate_limit="0", max_retries=0))
    rows = [{"phone": written_otherwise(e164(i), i), "first_name": f"P{i}"} for i in range(40)]
    mine = {e164(i) for i in range(40) if partition_of(e164(i), 2) == 1}
    store = StateStore()
    op = BatchPersonalizedSmsOperator(
        task_id="batch", rows=rows, message="Hi {{ first_name }}", chunk_size=3, partition=(1, 2)
    )
    real_send, calls = op.hook.send, []

    def send(request: Any, *, request_id: str | None = None) -> Any:
        calls.append(request_id)
        if len(calls) == 2:
            sandbox.fault("drop_after_commit")  # chunk 2 reaches MTA, its answer never arrives
        return real_send(request, request_id=request_id)

    monkeypatch.setattr(op.hook, "send", send)
    ctx = context(store)
    op.render_template_fields(ctx)
    with pytest.raises(Exception):  # noqa: B017 - the transport error of the lost answer
        op.execute(ctx)
    assert store["mta_batch_checkpoint__partition_1_of_2"]["confirmed"] == 1

    out = run(context(store, try_number=2), rows=rows, partition=(1, 2), chunk_size=3)
    assert out["resumed_from_chunk"] == 1 and out["already_sent_chunks"] == 1 and out["sent"] == len(mine)
    other = run(context(store), rows=rows, partition=(0, 2), chunk_size=3)  # the same store, its own key
    assert other["resumed_from_chunk"] == 0 and other["sent"] == 40 - len(mine)
    assert texted(sandbox) == Counter({e164(i): 1 for i in range(40)})


@pytest.mark.parametrize(
    ("partition", "problem"),
    [
        ((8, 8), r"index must be from 0 to 7 \(count 8\), not 8"),
        ((-1, 8), "index must be from 0 to 7"),
        ((0, 0), "count must be 1 or more, not 0"),
        ((1,), r"expected \(index, count\)"),
        ((True, 2), r"expected \(index, count\)"),
        ((0.5, 2), r"expected \(index, count\)"),
        ("three of eight", r"expected \(index, count\)"),
        (3, r"expected \(index, count\)"),
        ({"index": 0, "count": 8}, r"expected \(index, count\)"),
    ],
)
def test_a_bad_partition_fails_at_parse_naming_it(partition: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=rf"^b: partition: {problem}"):
        BatchPersonalizedSmsOperator(task_id="b", message="x", rows=[], partition=partition)


def test_partition_forms_accepted_at_parse() -> None:
    assert check_partition((3, 8)) == check_partition([3, 8]) == (3, 8)  # a list: a tuple after XCom
    for value in ((0, 1), [7, 8], "2, 8", "(2, 8)"):
        BatchPersonalizedSmsOperator(task_id="b", message="x", rows=[], partition=value)


def test_a_templated_partition_is_checked_when_rendered_before_any_row_is_read(sandbox: Any) -> None:
    ctx = {**context(StateStore()), "params": {"part": 9}}
    op = BatchPersonalizedSmsOperator(
        task_id="b", message="x", rows=[{"phone": e164(1)}], partition=("{{ params.part }}", 8)
    )
    op.render_template_fields(ctx)
    assert op.partition == ("9", 8)
    with pytest.raises(MtaValidationError, match=r"b: partition: index must be from 0 to 7 \(count 8\), not 9"):
        op.execute(ctx)
    ok = BatchPersonalizedSmsOperator(task_id="b", message="x", rows=[{"phone": e164(1)}], partition="{{ 0 }}, 1")
    ok.render_template_fields(ctx)
    assert ok.partition_value == (0, 1)
    assert ok.execute(ctx)["sent"] == 1
    assert sandbox.messages()[0]["to"] == e164(1)


def test_partition_of_is_stable_and_spreads() -> None:
    # Fixed values: the same number must land in the same partition in every process and Python version.
    assert [partition_of(e164(i), 8) for i in range(8)] == [0, 0, 2, 5, 6, 7, 7, 7]
    assert partition_of("ann@example.com", 8) == 6
    assert partition_of("+13175550000", 1) == 0
    spread = Counter(partition_of(e164(i), 8) for i in range(8_000))
    assert len(spread) == 8 and min(spread.values()) > 850
