"""What an operator on call sees: Prometheus metrics (`telemetry.metrics`) and logs that carry each request's id
(`telemetry.logs`); the HTTP middleware that feeds both is `api.observe` (docs/operations.md)."""
