"""Workers: the loop that claims and runs tasks, its heartbeat, URL downloads, and the workers of one process."""
