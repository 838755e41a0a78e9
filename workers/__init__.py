"""Workers: consume the request queues and own every write (SPEC 1)."""
