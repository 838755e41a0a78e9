"""Message entry points of the files family."""

from workers.routing import FamilyRouter

router = FamilyRouter("files")
