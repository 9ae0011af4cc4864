"""What an operator sees: Prometheus metrics, access and task logs (docs/operations.md)."""
