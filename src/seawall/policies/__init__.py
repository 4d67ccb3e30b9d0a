"""The resilience policies, one module per policy; import them from :mod:`seawall`."""
