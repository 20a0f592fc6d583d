"""Fixtures that start the project's own OpenF1-compatible server (filled in with the server)."""
