"""What identifies one Airflow callback event (read from the callback's context)."""

from __future__ import annotations

from typing import Any


def callback_event(context: Any) -> tuple[Any, ...]:
    """What identifies one callback event: dag, run, task, map index, try and state."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) or getattr(dag, "dag_id", None)
    run_id = getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None) or context.get("run_id")
    state = getattr(ti, "state", None) if ti is not None else getattr(dag_run, "state", None)
    return (
        dag_id,
        run_id,
        getattr(ti, "task_id", None),
        getattr(ti, "map_index", None),
        getattr(ti, "try_number", None),
        str(state) if state is not None else context.get("reason"),
    )
