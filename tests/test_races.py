"""Races with real threads and connections: each transition has exactly one winner."""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import create

from models import Task, db
from tasks.claims import claim_next_task


def test_concurrent_cancels_have_one_winner(app, client, auth):
    """Many cancels of one Starting task: exactly one 200, the rest see it Cancelled."""
    for _ in range(10):
        task_id = create(client, auth)["task_id"]
        barrier = threading.Barrier(8)

        def cancel():
            barrier.wait()
            return app.test_client().get(f"/task/{task_id}/cancel", headers=auth)

        with ThreadPoolExecutor(8) as pool:
            responses = [future.result() for future in [pool.submit(cancel) for _ in range(8)]]
        answers = sorted((r.status_code, r.text) for r in responses)
        assert answers == [(200, "Task cancelled")] + [(400, "Task cannot be cancelled: status is Cancelled")] * 7


def test_cancel_racing_claim_has_exactly_one_winner(app, client, auth):
    """A cancel and a worker's claim of the same task: one wins, never both, never neither; and
    each wins some of the time."""
    seed = 1
    print(f"seed={seed}")
    rng = random.Random(seed)
    cancel_wins = claim_wins = 0
    for _ in range(200):
        task_id = create(client, auth)["task_id"]
        barrier = threading.Barrier(2)
        # The cancel's request takes longer to reach the database than the claim's one statement:
        # the claim starts up to 3 ms later, so that the two meet in either order.
        claim_delay = rng.uniform(0, 0.003)

        def cancel():
            barrier.wait()
            return app.test_client().get(f"/task/{task_id}/cancel", headers=auth)

        def claim():
            with app.app_context():
                barrier.wait()
                time.sleep(claim_delay)  # the interleaving under test, not a wait for a state
                claimed = claim_next_task("racer", lease_seconds=60)
                db.session.remove()
                return claimed

        with ThreadPoolExecutor(2) as pool:
            cancelled, claimed = pool.submit(cancel), pool.submit(claim)
            cancelled, claimed = cancelled.result(), claimed.result()
        with app.app_context():
            status = db.session.get(Task, task_id).status
            db.session.remove()
        if cancelled.status_code == 200:
            assert cancelled.text == "Task cancelled"
            assert claimed is None
            assert status == "Cancelled"
            cancel_wins += 1
        else:
            assert (cancelled.status_code, cancelled.text) == (400, "Task cannot be cancelled: status is Processing")
            assert claimed is not None and claimed.task_id == task_id
            assert status == "Processing"
            claim_wins += 1
    print(f"cancel won {cancel_wins}, claim won {claim_wins}")
    assert cancel_wins + claim_wins == 200
    assert cancel_wins >= 1 and claim_wins >= 1, "no race: one side always won"
