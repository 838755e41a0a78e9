"""Pytest plugin (placeholder while the fixtures are written)."""
