"""The edge: a thin aiohttp app that verifies tokens and publishes requests (SPEC 1)."""
