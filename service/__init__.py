"""The running service: the webhook receiver, its workers and (later) the scheduled sweeps, composed."""
