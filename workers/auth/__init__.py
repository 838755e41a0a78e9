"""The auth family: sign-up, login, refresh rotation, logout, the caller's profile."""
