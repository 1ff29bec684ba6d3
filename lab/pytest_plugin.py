"""Pytest fixtures that start the lab (filled in by the lab runtime)."""
