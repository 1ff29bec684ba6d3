"""shifter: move live traffic from blue to green in steps, gated by Prometheus SLOs."""

__version__ = "0.1.0"
