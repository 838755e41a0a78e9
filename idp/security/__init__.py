"""Token, password and revocation primitives used by both the edge and the workers."""
