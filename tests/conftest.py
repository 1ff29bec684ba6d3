"""Shared fixtures: the lab (a running Prometheus, HAProxy, API emulator and demo apps)."""

pytest_plugins = ["lab.pytest_plugin"]
