"""Message contracts shared by the edge, the workers and other systems. Pure: no I/O."""
