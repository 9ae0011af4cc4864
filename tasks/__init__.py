"""The task state machine on the database: statuses, transitions, guarded writes, claims, leases, one driver per database."""
