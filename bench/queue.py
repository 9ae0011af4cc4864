"""Tasks per second through the queue (create, claim, run, finish) beside bare UPDATE transactions.

For SQLite and PostgreSQL and 1, 2 and 4 workers: as many producer processes create N tasks
with a one-byte text document (lifecycle.create_task, as the API does) while the workers (the
real `worker.Worker`) drain them; the rate is N over the time until every task has Succeeded.
The workers run as the service runs them, as threads of one worker process (`flask worker
--threads N`), and, for comparison, as N processes of one thread each. Beside it, in the same run,
the same number of processes run bare single-row UPDATE transactions in a loop (psycopg or
sqlite3, no SQLAlchemy), and on PostgreSQL also pgbench with the same UPDATE.
Run from the project root: `.venv/bin/python -m bench.queue` (as a module: run as a script,
bench/ would come first on sys.path and this file would shadow the standard library's `queue`).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time

from bench.common import POSTGRES_URL, scratch_database

SETTINGS = {"API_KEYS": "bench-key", "WORKER_THREADS": 0, "SECRET_KEY": "bench"}


def make_app(database_url: str):
    from app import create_app

    return create_app({"DATABASE_URL": database_url, **SETTINGS})


def worker_process(database_url: str, threads: int, start, stop, finished) -> None:
    """A worker process with `threads` worker loops, as `flask worker --threads N` runs them,
    idling 10 ms (not the service's 0.5 s) so the bench measures the queue, not the poll."""
    import threading

    from worker.loop import Worker

    app = make_app(database_url)

    def loop() -> None:
        worker = Worker(app, threading.Event())
        start.wait()
        while not stop.is_set():
            if worker.run_once():
                with finished.get_lock():
                    finished.value += 1
            else:
                time.sleep(0.01)  # a short idle poll: 1 ms would let idle workers swamp the database

    loops = [threading.Thread(target=loop, name=f"worker-{n}") for n in range(threads)]
    for thread in loops:
        thread.start()
    for thread in loops:
        thread.join()


def producer_process(database_url: str, tasks: int, start) -> None:
    """Create tasks one by one, as API requests would, once the run starts."""
    from schemas import default_configuration
    from tasks.lifecycle import create_task

    app = make_app(database_url)
    configuration = default_configuration(None)
    with app.app_context():
        start.wait()
        for _ in range(tasks):
            create_task("default", configuration, "empty.txt", "text/plain", None, b" ")


def queue_rate(database_url: str, workers: int, tasks: int, layout: str = "threads") -> float:
    """Tasks per second from the start of creation to the last Succeeded.

    layout "threads": one worker process running `workers` worker threads (`flask worker
    --threads N`, or a server's WORKER_THREADS); "processes": `workers` processes of one thread.
    As many producer processes as workers create the tasks: one producer alone would cap the
    rate at its own creation rate, while the baseline runs that many clients at once."""
    from sqlalchemy import func, select

    from models import Task, db

    app = make_app(database_url)
    context = multiprocessing.get_context("spawn")
    start, stop, finished = context.Event(), context.Event(), context.Value("i", 0)
    layouts = {"threads": [workers], "processes": [1] * workers}
    processes = [context.Process(target=worker_process, args=(database_url, threads, start, stop, finished))
                 for threads in layouts[layout]]
    shares = [tasks // workers + (index < tasks % workers) for index in range(workers)]
    producers = [context.Process(target=producer_process, args=(database_url, share, start)) for share in shares]
    for process in processes + producers:
        process.start()
    time.sleep(3)  # let every process build its app
    began = time.perf_counter()
    start.set()
    # The workers count what they finished: polling the database for it would load the database
    # under test (a count over the tasks table every few milliseconds halved the rate).
    while finished.value < tasks:
        time.sleep(0.002)
    elapsed = time.perf_counter() - began
    stop.set()
    for process in processes + producers:
        process.join(30)
    with app.app_context():
        succeeded = db.session.execute(
            select(func.count()).select_from(Task).where(Task.status == "Succeeded")).scalar_one()
        db.session.remove()
    if succeeded != tasks:
        raise RuntimeError(f"{succeeded} of {tasks} tasks Succeeded")
    return tasks / elapsed


def bare_update_process(database_url: str, seconds: float, result) -> None:
    """A loop of single-row UPDATE transactions with the bare driver."""
    if database_url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(database_url[len("sqlite:///"):], timeout=30)
    else:
        import psycopg

        url, _, query = database_url.replace("postgresql+psycopg", "postgresql").partition("?")
        options = query.split("options=", 1)[1].replace("%3D", "=") if "options=" in query else None
        connection = psycopg.connect(url, options=options)
    row = os.getpid() % 8
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        cursor = connection.cursor()
        cursor.execute("UPDATE bench_counter SET n = n + 1 WHERE id = %d" % row)
        connection.commit()
        count += 1
    result.put(count)


def bare_rate(database_url: str, processes: int, seconds: float = 5.0) -> float:
    """Bare single-row UPDATE transactions per second over `processes` concurrent loops."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS bench_counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(text("DELETE FROM bench_counter"))
        for row in range(8):
            connection.execute(text("INSERT INTO bench_counter VALUES (:id, 0)"), {"id": row})
    engine.dispose()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    loops = [context.Process(target=bare_update_process, args=(database_url, seconds, results))
             for _ in range(processes)]
    for loop in loops:
        loop.start()
    total = sum(results.get() for _ in loops)
    for loop in loops:
        loop.join()
    return total / seconds


def pgbench_rate(database_url: str, clients: int, seconds: int = 5) -> float | None:
    """pgbench's transactions per second for the same single-row UPDATE, if pgbench is here."""
    if not shutil.which("pgbench"):
        return None
    schema = database_url.split("search_path%3D", 1)[1]
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(f"\\set id random(0, 7)\nUPDATE {schema}.bench_counter SET n = n + 1 WHERE id = :id;\n")
    base = POSTGRES_URL.replace("postgresql+psycopg", "postgresql")
    output = subprocess.run(["pgbench", "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds),
                             "-f", script.name, base], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    for line in output.splitlines():
        if line.startswith("tps"):
            return float(line.split("=")[1].split()[0])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=4000)  # about 4 s a run; at 1000, start-up noise dominated
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    print("tasks/s: N worker threads in one process | N worker processes of one thread; "
          "ratios of the first to the baselines")
    print(f"{'engine':<11}{'workers':>8}{'threads':>9}{'procs':>7}{'bare UPDATE/s':>15}{'ratio':>7}"
          f"{'pgbench tps':>13}{'ratio':>7}")
    for engine_name in args.engines.split(","):
        for workers in [int(n) for n in args.workers.split(",")]:
            with scratch_database(engine_name) as database_url:
                # The baselines are measured before and after the queue and averaged: this
                # machine's fsync time drifts, and one side alone can miss it by half.
                bare = bare_rate(database_url, workers)
                pgbench = pgbench_rate(database_url, workers) if engine_name == "postgresql" else None
                rate = queue_rate(database_url, workers, args.tasks, "threads")
                bare = (bare + bare_rate(database_url, workers)) / 2
                if pgbench:
                    pgbench = (pgbench + pgbench_rate(database_url, workers)) / 2
            by_processes = rate
            if workers > 1:
                with scratch_database(engine_name) as database_url:  # a fresh table, as the first had
                    by_processes = queue_rate(database_url, workers, args.tasks, "processes")
            pg_columns = f"{pgbench:>13.0f}{rate / pgbench:>7.2f}" if pgbench else f"{'-':>13}{'-':>7}"
            print(f"{engine_name:<11}{workers:>8}{rate:>9.0f}{by_processes:>7.0f}{bare:>15.0f}{rate / bare:>7.2f}"
                  f"{pg_columns}", flush=True)


if __name__ == "__main__":
    main()
