"""Concurrent writers against the web app: latency, throughput and not one write lost or duplicated.

For each database backend (the project's SQLite file; a fresh schema on a PostgreSQL server) this builds the
web tests' small project (tests/web/web_project.py), starts ``icam serve`` on it (a real uvicorn HTTP server on
127.0.0.1, one process, as a project would run it), and drives it with W concurrent writers, each with its own
HTTP connection and the ``agreements`` role's API token, each posting N benefit deliveries in a row
(``POST /api/v1/deliveries``, every one with its own reference: writer and operation number). The client is one
asyncio process (httpx.AsyncClient, one connection per writer); each request's latency is measured from just
before it is sent to when its response has been read, so it includes waiting for the server's turn.

Afterwards the deliveries table is read back directly (SQLAlchemy on the same database):

- lost: answered 201 but not in the table;
- duplicated: a reference in the table more than once;
- unacknowledged: in the table though its request got no 201 (a timeout, say): the client could not know;
- non-201: every other answer (an error, a refusal, a timeout), by status.

    python benchmarks/web_load.py                                   # 100 writers x 1,000 deliveries each
    python benchmarks/web_load.py --writers 10 --operations 50 --backends sqlite

PostgreSQL: ``--postgres-url`` or $ICAM_TEST_POSTGRES_URL (the tests' server; the benchmark makes its own schema
and drops it afterwards); without either that backend is skipped. Client and server run on the same machine and
share its cores: the figures are those of the whole, not of the server alone.

Prints a Markdown table; the raw rows go to ``benchmarks/web_load.json`` (``--out``). Exits 1 when any write was
lost or duplicated or any request did not get its 201. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import func, select

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "web")]  # the web tests' project builder, one source for both

from web_project import AGREEMENTS, database, make_project  # noqa: E402

from icam.agreements.models import Delivery  # noqa: E402
from icam.store.db import database_url, make_engine  # noqa: E402

POSTGRES_URL_ENV = "ICAM_TEST_POSTGRES_URL"
ITEM = "coffee seedlings"  # in every agreement's benefit schedule (2013-2032), so value_usd comes from it
DELIVERED_ON = "2020-05-04"
SERVER = "import sys\nfrom icam.cli import app\napp(sys.argv[1:], prog_name='icam')\n"
REQUEST_TIMEOUT_S = 300.0  # a write waiting its turn behind 99 others is slow, not failed


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``icam serve FOLDER --url URL`` in a child process, on a free port of 127.0.0.1, until :meth:`stop`."""

    def __init__(self, folder: Path, url: str | None, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        args = ["serve", str(folder), "--host", "127.0.0.1", "--port", str(self.port)]
        if url:
            args += ["--url", url]
        self._log_file = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-c", SERVER, *args], stdout=self._log_file,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                self.stop()
                sys.exit(f"the server stopped ({self.process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                sys.exit(f"the server did not answer /healthz within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def cpu_s(self) -> float | None:
        """CPU seconds the server has used so far."""
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """Stop the server (Ctrl-C, as a person would) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


def reference(run: str, writer: int, op: int) -> str:
    """The delivery reference of operation ``op`` of ``writer`` in this run (unique: what lost/duplicated count)."""
    return f"load-{run}-w{writer:03d}-op{op:05d}"


async def drive(base: str, token: str, run: str, writers: int, operations: int) -> dict:
    """W writers, one connection each, N deliveries each; every request's latency (s) and status (0: no answer)."""
    latency = np.full((writers, operations), np.nan)
    status = np.zeros((writers, operations), dtype=np.int16)
    failures: Counter[str] = Counter()

    async def writer(w: int) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                     timeout=REQUEST_TIMEOUT_S) as client:
            for i in range(operations):
                body = {"agreement_id": AGREEMENTS[w % len(AGREEMENTS)], "item": ITEM, "delivered_on": DELIVERED_ON,
                        "quantity": 1 + (w * operations + i) % 500, "reference": reference(run, w, i)}
                t0 = time.perf_counter()
                try:
                    response = await client.post("/api/v1/deliveries", json=body)
                    status[w, i] = response.status_code
                    if response.status_code != 201:
                        failures[f"{response.status_code}: {response.text[:200]}"] += 1
                except httpx.HTTPError as exc:
                    failures[f"{type(exc).__name__}: {exc}"[:200]] += 1
                latency[w, i] = time.perf_counter() - t0

    t0 = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return {"seconds": time.perf_counter() - t0, "latency": latency, "status": status, "failures": failures}


def stored_references(url: str, run: str) -> Counter[str]:
    """How many times each reference of this run is in the deliveries table (read straight from the database)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Delivery.reference, func.count()).where(
                Delivery.reference.like(f"load-{run}-%")).group_by(Delivery.reference)).all()
    finally:
        engine.dispose()
    return Counter({ref: n for ref, n in rows})


def measure(backend: str, url: str | None, folder: Path, writers: int, operations: int) -> dict:
    """One backend's row: the project made, served, written to by ``writers`` × ``operations``, then read back."""
    tokens = make_project(folder, url)
    run = uuid.uuid4().hex[:8]
    server = Server(folder, url, folder / "server.log")
    try:
        cpu0, client0 = server.cpu_s(), time.process_time()
        result = asyncio.run(drive(server.base, tokens["agreements"], run, writers, operations))
        server_cpu = None if cpu0 is None else server.cpu_s() - cpu0
        client_cpu = time.process_time() - client0
    finally:
        server.stop()
    stored = stored_references(database_url(folder, url), run)
    status, latency_ms = result["status"], result["latency"] * 1000
    acknowledged = {reference(run, w, i) for w, i in zip(*np.nonzero(status == 201))}
    total = writers * operations
    p50, p95, p99 = np.percentile(latency_ms, [50, 95, 99])
    row = {"backend": backend, "writers": writers, "operations_per_writer": operations, "requests": total,
           "seconds": round(result["seconds"], 1), "writes_per_s": round(total / result["seconds"], 1),
           "p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1), "p99_ms": round(float(p99), 1),
           "max_ms": round(float(np.max(latency_ms)), 1),
           "non_201": int(np.sum(status != 201)), "lost": len(acknowledged - set(stored)),
           "duplicated": sum(1 for n in stored.values() if n > 1),
           "unacknowledged": len(set(stored) - acknowledged), "stored": sum(stored.values()),
           "server_cpu_s": None if server_cpu is None else round(server_cpu, 1), "client_cpu_s": round(client_cpu, 1),
           "failures": dict(result["failures"].most_common(10))}
    if row["non_201"]:
        print(f"  {backend}: {row['non_201']} requests without their 201: {row['failures']}", flush=True)
        print_errors(folder / "server.log")
    return row


def print_errors(log: Path) -> None:
    """The server log's error lines (the last line of each traceback, and its own messages), each once."""
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if line.strip() and not line.startswith((" ", "Traceback", "The above exception", "During handling"))]
    for line, n in Counter(lines).most_common(10):
        print(f"    server log, {n} x: {line[:300]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=100, help="concurrent writers, one connection each")
    parser.add_argument("--operations", type=int, default=1000, help="deliveries each writer posts, one after another")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_URL_ENV, "").strip() or None,
                        help=f"the PostgreSQL server (default: ${POSTGRES_URL_ENV}); a schema is made and dropped")
    parser.add_argument("--out", type=Path, default=HERE / "web_load.json", help="the raw rows, as JSON")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown or args.writers < 1 or args.operations < 1:
        parser.error(f"unknown backend(s) {sorted(unknown)}" if unknown else "--writers and --operations must be >= 1")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"{args.writers} writers x {args.operations} deliveries each, per backend; client and server share this "
          f"machine ({machine})", flush=True)
    rows = []
    for backend in backends:
        if backend == "postgresql" and not args.postgres_url:
            print(f"  postgresql: skipped (no server: give --postgres-url or set ${POSTGRES_URL_ENV})", flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix="icam-web-load-") as tmp, \
                database(backend, args.postgres_url) as url:
            row = measure(backend, url, Path(tmp) / "project", args.writers, args.operations)
        print(f"  {backend}: {row['seconds']} s, {row['writes_per_s']} writes/s, p50 {row['p50_ms']} ms, "
              f"p95 {row['p95_ms']} ms, non-201 {row['non_201']}, lost {row['lost']}, "
              f"duplicated {row['duplicated']}", flush=True)
        rows.append(row)
    if args.out:
        args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"\nMachine: {machine}; the client (one asyncio process), the server (one uvicorn process) and PostgreSQL "
          f"share its cores.\n")
    print("| backend | writers | operations each | seconds | writes/s | p50 (ms) | p95 (ms) | p99 (ms) | non-201 | "
          "lost | duplicated | icam server CPU (s) | client CPU (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['writers']} | {r['operations_per_writer']:,} | {r['seconds']} | "
              f"{r['writes_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['non_201']} | {r['lost']} | "
              f"{r['duplicated']} | {r['server_cpu_s']} | {r['client_cpu_s']} |")
    if any(r["non_201"] or r["lost"] or r["duplicated"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
