"""Fields shared by the paginated and id-addressed requests of the users and roles families."""

from typing import Annotated

from pydantic import Field

# Path ids are plain strings in the contract: a malformed id is answered 404 by the
# worker, exactly like another tenant's id, instead of a 400 that would tell them apart.
ResourceId = Annotated[str, Field(min_length=1, max_length=100)]
PageLimit = Annotated[int, Field(ge=1, le=200)]
Cursor = Annotated[str, Field(min_length=1, max_length=512)]
DEFAULT_LIMIT = 50
