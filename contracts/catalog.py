"""Every family's contracts, imported so that ``ACTIONS`` is complete.

Import this module (not ``contracts.actions``) wherever the whole table is needed: the
broker topology, the edge's routes, the API documents.
"""

from contracts import auth, files, roles, sessions, users
from contracts.actions import ACTIONS, FAMILIES, PING, Action

__all__ = ["ACTIONS", "FAMILIES", "PING", "Action", "auth", "files", "roles", "sessions", "users"]
