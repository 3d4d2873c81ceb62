"""The store: webhook events, leases, the audit trail and every other record the service keeps,
on SQLite (embedded) or PostgreSQL (several replicas), through SQLAlchemy Core."""
