"""Where a batch keeps its checkpoint between tries: Airflow's task state store (3.3+), else a Variable."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_mta.core.checkpoint import CheckpointStore

KEY = "mta_batch_checkpoint"


class TaskStateCheckpointStore:
    """The task state store of this task instance (Airflow 3.3+); it survives retries and worker crashes."""

    def __init__(self, accessor: Any, *, key: str = KEY) -> None:
        self._accessor = accessor
        self.key = key
        self.description = f"task state store key {key!r} of this task instance"

    def load(self) -> dict[str, Any] | None:
        value = self._accessor.get(self.key)
        return value if isinstance(value, dict) else None

    def save(self, value: dict[str, Any]) -> None:
        self._accessor.set(self.key, value)

    def delete(self) -> None:
        self._accessor.delete(self.key)


class VariableCheckpointStore:
    """An Airflow Variable per task instance, for Airflow versions without a task state store.

    It is deleted when the batch completes; a later re-run of the same task instance is still
    protected by MTA's 409 on the same ``X-Request-Id`` values.
    """

    def __init__(self, *, dag_id: str, task_id: str, run_id: str, map_index: int, key: str = KEY) -> None:
        run = hashlib.sha256(run_id.encode()).hexdigest()[:12]
        self.key = f"{key}__{dag_id}__{task_id}__{map_index}__{run}"[:250]
        self.description = f"Airflow Variable {self.key!r}"

    def load(self) -> dict[str, Any] | None:
        from airflow.sdk import Variable

        raw = Variable.get(self.key, default=None)
        if raw is None:
            return None
        value = json.loads(raw) if isinstance(raw, str) else raw
        return value if isinstance(value, dict) else None

    def save(self, value: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key, json.dumps(value), description="MTA batch progress (airflow-provider-mta)")

    def delete(self) -> None:
        from airflow.sdk import Variable

        Variable.delete(self.key)


def checkpoint_key(partition: tuple[int, int] | None = None) -> str:
    """``mta_batch_checkpoint``; with ``partition=(3, 8)``, ``mta_batch_checkpoint__partition_3_of_8``."""
    return KEY if partition is None else f"{KEY}__partition_{partition[0]}_of_{partition[1]}"


def checkpoint_store(context: Context, *, partition: tuple[int, int] | None = None) -> CheckpointStore:
    """The best store this Airflow version offers for the running task instance (and partition of the batch)."""
    key = checkpoint_key(partition)
    accessor = context.get("task_state_store")  # type: ignore[misc]
    if accessor is not None:
        return TaskStateCheckpointStore(accessor, key=key)
    ti = context["ti"]
    return VariableCheckpointStore(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        map_index=ti.map_index if ti.map_index is not None else -1,
        key=key,
    )
