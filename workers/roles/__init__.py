"""The roles family: built-in and custom roles, the permission catalogue."""
