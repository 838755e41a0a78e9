"""Runtime shared by the edge and the workers: settings, security primitives, CLI."""
