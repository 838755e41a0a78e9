"""``idp bench``: the platform measured against its physical floors (docs/performance.md)."""
