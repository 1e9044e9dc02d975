"""Fixtures: the sandbox with a 2 s delivery delay and a spy on HTTP attempts."""

from tests.delivery_sandbox import calls, slow, slow_server  # noqa: F401
