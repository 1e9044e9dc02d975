"""The quiet hours a task uses: its own arguments, else (for batches) the ``[mta]`` Airflow config.

``[mta] quiet_hours`` (default ``08:00-21:00``; ``off`` turns the batch default off) and
``[mta] quiet_hours_action`` (default ``defer``) let a platform team set the rule for every batch
of a deployment; a task's own ``quiet_hours=`` always wins, and ``quiet_hours=None`` turns it off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_mta.core.quiet_hours import QuietHours

FROM_CONFIG: Any = "[mta] quiet_hours"
"""The batch's default: read ``[mta] quiet_hours`` / ``quiet_hours_action`` when the task runs."""
DEFAULT_WINDOW = "08:00-21:00"
DEFAULT_ACTION = "defer"
_OFF = ("", "off", "none", "false", "0")


def resolve_quiet_hours(*, quiet_hours: Any, action: Any, overrides: Any) -> QuietHours | None:
    """Validate the task's quiet-hours arguments (errors name the parameter); None means off."""
    from airflow_provider_mta.core.quiet_hours import QuietHours

    if quiet_hours is FROM_CONFIG or quiet_hours == FROM_CONFIG:
        window, default_action = _from_config()
        if window is None:
            return None
        return QuietHours.build(quiet_hours=window, action=action or default_action, overrides=overrides)
    return QuietHours.build(quiet_hours=quiet_hours, action=action or DEFAULT_ACTION, overrides=overrides)


def _from_config() -> tuple[str | None, str]:
    from airflow.configuration import conf

    window = str(conf.get("mta", "quiet_hours", fallback=DEFAULT_WINDOW)).strip()
    action = str(conf.get("mta", "quiet_hours_action", fallback=DEFAULT_ACTION)).strip()
    return (None if window.lower() in _OFF else window), action
