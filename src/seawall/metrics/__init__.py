"""What seawall is doing, made visible: the live dashboard over policy snapshots."""

from seawall.metrics._dashboard import Dashboard

__all__ = ["Dashboard"]
