"""The sandbox: documents and page-image renders run in a child process with a deadline, a memory cap and no secrets."""
