"""The users family: tenant administration of users (and the tenant itself)."""
