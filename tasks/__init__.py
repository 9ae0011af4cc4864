"""The task state machine on the database: statuses, guarded writes, claims, leases, one driver per database."""
