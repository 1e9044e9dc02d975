"""``X-Request-Id`` values: derived deterministically from what identifies one logical send."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any


def derive_request_id(*parts: Any) -> str:
    """A stable id for the same parts, e.g. ``derive_request_id(dag_id, task_id, run_id, map_index, payload)``."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return "mta-" + hashlib.sha256(blob.encode()).hexdigest()[:40]


def new_request_id() -> str:
    """A random id for a send that has no natural identity."""
    return "mta-" + uuid.uuid4().hex
