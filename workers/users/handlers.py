"""Message entry points of the users family."""

from workers.routing import FamilyRouter

router = FamilyRouter("users")
