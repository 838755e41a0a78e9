"""Real ``idp edge`` and ``idp worker`` processes: the implementation lives in idp_testing."""

from idp_testing.platform import Platform, Process, free_port

__all__ = ["Platform", "Process", "free_port"]
