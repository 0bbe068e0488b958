"""AI alerts: detectors and root-cause diagnosis (pure), the scheduler and the alert store (IO)."""
