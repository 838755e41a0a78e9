"""Bring up the idp platform for integration suites: a pytest plugin and testcontainers."""
