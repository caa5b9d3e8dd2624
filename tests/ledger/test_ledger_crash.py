"""Crash safety: the issuing process is killed with SIGKILL at random points, 50 times.

The child issues monitoring periods one after another, each in one transaction with some work
inside it (after the rows are written, before the commit; the child prints ``written K`` there),
then transfers and retires a few credits in separate transactions; it prints ``issued K`` after
each commit. The parent waits a seeded random
delay and kills it. After every kill the ledger must verify, the issued periods must be 0, 1, ..., m-1
each exactly once (no holes, no duplicates), every period the child reported as committed must be
there, and at most the one period being written when the kill came may be there unreported.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from icam import ledger
from icam.ledger.models import Issuance
from icam.store.db import make_engine, session, upgrade

KILLS = 50
PERIODS_PER_RUN = 6
PROJECT = "CRASH"

CHILD = r"""
import datetime as dt, hashlib, sys, time
from sqlalchemy import func, select
from icam import ledger
from icam.ledger.models import Issuance
from icam.store.db import make_engine, session

engine = make_engine(sys.argv[1])
with session(engine) as s:
    done = s.scalar(select(func.count()).select_from(Issuance).where(Issuance.project == "CRASH"))
    ledger.open_account(s, "buyer", exist_ok=True)
print("ready", flush=True)
for k in range(done, done + int(sys.argv[2])):
    start = dt.date(2000, 1, 1) + dt.timedelta(days=30 * k)
    with session(engine) as s:
        ledger.issue_period(s, "CRASH", start, start + dt.timedelta(days=29), start.year, 100 + k, 10 + k % 7)
        print(f"written {k}", flush=True)  # every row of period k is written, nothing committed yet
        digest = b""
        for _ in range(40000):  # ~15 ms of work inside the transaction: a kill here must leave nothing of period k
            digest = hashlib.sha256(digest).digest()
    print(f"issued {k}", flush=True)
    with session(engine) as s:
        ledger.transfer(s, "issuance/CRASH", "buyer", 7)
    with session(engine) as s:
        ledger.retire(s, "buyer", 3, "crash test", "killed at random")
print("done", flush=True)
"""


@pytest.fixture
def crash_url(db_url):
    """A migrated, empty ledger on each backend (conftest's ``db_url``)."""
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return db_url


def _issued_periods(engine) -> list[int]:
    """Indices k of the issued periods (the child's period k starts 30·k days after 2000-01-01)."""
    with session(engine) as s:
        starts = s.scalars(select(Issuance.period_start).where(Issuance.project == PROJECT)).all()
    return sorted((start - dt.date(2000, 1, 1)).days // 30 for start in starts)


@pytest.mark.slow
def test_sigkill_at_random_points_never_leaves_half_an_issuance(crash_url):
    rng = random.Random(20080615)
    engine = make_engine(crash_url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reported: set[int] = set()
    outcomes = {"killed": 0, "finished": 0, "inside an issuance": 0}
    window_s = None
    started = time.monotonic()
    try:
        for kill in range(KILLS + 1):  # run 0 is not killed: it measures how long a run takes
            child = subprocess.Popen([sys.executable, "-c", CHILD, crash_url, str(PERIODS_PER_RUN)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = child.stdout.readline()
            if line.strip() != "ready":
                child.kill()
                out, err = child.communicate()
                pytest.fail(f"the child did not start: {line}{out}{err}")
            if window_s is None:  # later kills land anywhere between "ready" and "done" of a run this long
                t0, seen = time.monotonic(), []
                while (line := child.stdout.readline()) and line.strip() != "done":
                    seen.append(line.strip())
                window_s = time.monotonic() - t0
                out, err = child.communicate()
                assert child.returncode == 0, err
                lines = seen + out.splitlines()
                outcomes["finished"] += 1
            else:
                time.sleep(rng.uniform(0, window_s))
                child.send_signal(signal.SIGKILL)
                out, err = child.communicate()
                lines = out.splitlines()
                if child.returncode == -signal.SIGKILL:
                    outcomes["killed"] += 1
                else:
                    assert child.returncode == 0, err
                    outcomes["finished"] += 1
            reported.update(int(x.split()[1]) for x in lines if x.startswith("issued "))
            last = lines[-1] if lines else ""

            with session(engine) as s:
                report = ledger.verify(s)
            assert report.ok, (kill, [str(p) for p in report.problems])
            periods = _issued_periods(engine)
            assert periods == list(range(len(periods))), f"kill {kill}: periods {periods} have a hole or a double"
            assert reported <= set(periods), f"kill {kill}: committed periods {reported - set(periods)} are lost"
            assert len(periods) <= max(reported, default=-1) + 2, f"kill {kill}: more periods than were written"
            if last.startswith("written ") and int(last.split()[1]) not in periods:
                outcomes["inside an issuance"] += 1  # killed with the rows written and not committed: rolled back
    finally:
        engine.dispose()
    elapsed = time.monotonic() - started
    # Most runs must really be killed mid-way, or the test proves little.
    assert outcomes["killed"] >= KILLS * 0.7, outcomes
    assert outcomes["killed"] + outcomes["finished"] == KILLS + 1
    assert outcomes["inside an issuance"] >= 3, outcomes
    print(f"{outcomes} in {elapsed:.1f} s; {len(periods)} periods issued, window {window_s:.2f} s")
