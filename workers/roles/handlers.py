"""Message entry points of the roles family."""

from workers.routing import FamilyRouter

router = FamilyRouter("roles")
