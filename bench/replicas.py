"""Dispatch throughput with one and with two service replicas on one PostgreSQL, in one run.

    python -m bench.replicas [--jobs 2000] [--concurrency 16]

Starts a PostgreSQL of its own (as tests/api/conftest.py's postgres_server
does: a free loopback port, fsync=off, under `runuser -u postgres` when run
as root). For 1 and then 2 replicas, on a fresh database each time, it starts
that many `railyard serve --dev` processes sharing one --jobs-dir and one
--artifacts, submits --jobs jobs through their APIs alternately, and times
from the first submission until every job has `dispatched_at` set. The jobs
run a trainer that is a two-line shell script exiting at once (each ends
failed/NoResult, which is fine: dispatches are counted, not results), so the
figure is the control plane's, not training's. The check "once" reads the
`jobs` and `transitions` tables directly: every job dispatched, at most one
`running` transition each, no LaunchFailed (a second dispatch of a job would
fail on its existing job directory), and exactly one job directory per job.

The dispatcher's per-resource concurrency holds across replicas; the replicas
are started with `--concurrency CPU=N` (16 by default), so a job is dispatched
once fewer than N are running. Results also go to bench/out/replicas.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
TIMEOUT_SECONDS = 3600


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A PostgreSQL server of our own on a free loopback port, as the API tests start one."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise SystemExit("PostgreSQL is not installed (`make test` installs Debian's postgresql package)")
        self.bin = os.path.dirname(found[-1])
        self.data = Path(tempfile.mkdtemp(prefix="railyard-postgres-"))
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # PostgreSQL refuses to run as root
        if self.run_as:
            shutil.chown(self.data, "postgres")
        self.port = free_port()

    def start(self) -> "Postgres":
        subprocess.run(self.run_as + [f"{self.bin}/initdb", "-D", str(self.data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)
        subprocess.run(self.run_as + [f"{self.bin}/pg_ctl", "-D", str(self.data / "db"), "-w", "-l", str(self.data / "log"),
                                      "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
                                            "-c max_connections=200", "start"],
                       check=True, capture_output=True)
        return self

    def database(self) -> str:
        name = f"railyard_{uuid.uuid4().hex[:10]}"
        subprocess.run([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
                       check=True, capture_output=True)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(self.run_as + [f"{self.bin}/pg_ctl", "-D", str(self.data / "db"), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.data, ignore_errors=True)


def start_replica(db: str, work: Path, index: int, concurrency: int) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    log = work / f"replica-{index}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "railyard.cli", "serve", "--dev", "--db", db, "--port", str(port), "--concurrency", f"CPU={concurrency}",
         "--artifacts", str(work / "runs"), "--jobs-dir", str(work / "jobs")],
        cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"replica {index} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url, log
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"replica {index} did not start:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def dispatched_count(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM jobs WHERE dispatched_at IS NOT NULL")).scalar_one()


def check_once(engine, job_ids: list[str], jobs_dir: Path) -> dict:
    """Every job dispatched, each at most one `running` transition, no LaunchFailed, one job directory each."""
    from sqlalchemy import text

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, dispatched_at FROM jobs")).all()
        running = dict(connection.execute(text(
            "SELECT job_id, count(*) FROM transitions WHERE state = 'running' GROUP BY job_id")).all())
        launch_failed = connection.execute(text("SELECT count(*) FROM transitions WHERE reason = 'LaunchFailed'")).scalar_one()
        states = dict(connection.execute(text("SELECT state, count(*) FROM jobs GROUP BY state")).all())
    ids = {r.id for r in rows}
    directories = {p.name for p in jobs_dir.iterdir()} if jobs_dir.exists() else set()
    found = {
        "jobs_in_table": len(rows),
        "submitted_jobs_in_table": ids == set(job_ids),
        "not_dispatched": sum(r.dispatched_at is None for r in rows),
        "jobs_with_several_running": sum(n > 1 for n in running.values()),
        "launch_failed": launch_failed,
        "job_directories": len(directories),
        "states": states,
    }
    found["once"] = (found["submitted_jobs_in_table"] and found["not_dispatched"] == 0 and found["jobs_with_several_running"] == 0
                     and launch_failed == 0 and directories == ids)
    return found


def run(postgres: Postgres, replicas: int, jobs: int, trainer: Path, spec: dict, work: Path, concurrency: int) -> dict:
    from railyard.api.store.db import make_engine

    db = postgres.database()
    work.mkdir(parents=True)
    started = [start_replica(db, work, i, concurrency) for i in range(replicas)]
    engine = make_engine(db)
    body = {"spec": spec, "binary": str(trainer)}
    clients = [httpx.Client(base_url=url, timeout=60) for _, url, _ in started]
    job_ids: list[str] = []
    try:
        began = time.perf_counter()
        for i in range(jobs):
            response = clients[i % replicas].post("/train", json=body)
            if response.status_code != 202:
                raise SystemExit(f"POST /train: {response.status_code} {response.text[:2000]}")
            job_ids.append(response.json()["job_id"])
        submitted = time.perf_counter() - began
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while (done := dispatched_count(engine)) < jobs:
            if time.monotonic() > deadline:
                raise SystemExit(f"{replicas} replica(s): only {done} of {jobs} jobs dispatched after {TIMEOUT_SECONDS} s")
            for process, _, log in started:
                if process.poll() is not None:
                    raise SystemExit(f"a replica exited:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        seconds = time.perf_counter() - began
    finally:
        for client in clients:
            client.close()
        for process, _, _ in started:
            stop(process)
    result = {"replicas": replicas, "jobs": jobs, "submit_seconds": round(submitted, 2), "seconds": round(seconds, 2),
              "dispatched_per_s": round(jobs / seconds, 2), **check_once(engine, job_ids, work / "jobs")}
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16, help="CPU jobs at once, across the replicas")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="railyard-replicas-bench-"))
    trainer = work / "trainer"
    trainer.write_text("#!/bin/sh\nexit 0\n")
    trainer.chmod(0o755)
    spec = json.loads((REPO / "workflows" / "fraud" / "spec.json").read_text())
    spec["data"]["features"][0]["path"] = str(work / "charges.parquet")  # absent: the fingerprint fails at once, harmlessly

    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, Python {platform.python_version()}",
              "jobs": args.jobs, "concurrency": {"CPU": args.concurrency}, "runs": []}
    postgres = Postgres().start()
    try:
        for replicas in (1, 2):
            print(f"{replicas} replica(s): submitting and dispatching {args.jobs:,} jobs ...", flush=True)
            report["runs"].append(run(postgres, replicas, args.jobs, trainer, spec, work / f"replicas-{replicas}", args.concurrency))
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)

    (OUT / "replicas.json").write_text(json.dumps(report, indent=2))
    print(f"\n{args.jobs:,} jobs whose trainer exits at once, CPU concurrency {report['concurrency']['CPU']} "
          f"(across replicas) ({report['machine']})")
    print(f"{'replicas':>8}{'jobs':>8}{'seconds':>10}{'dispatched/s':>14}{'submit s':>10}  each dispatched exactly once")
    for r in report["runs"]:
        print(f"{r['replicas']:>8}{r['jobs']:>8}{r['seconds']:>10.1f}{r['dispatched_per_s']:>14.2f}{r['submit_seconds']:>10.1f}  "
              f"{'yes' if r['once'] else 'no'}")
    for r in report["runs"]:
        if not r["once"]:
            print(f"{r['replicas']} replica(s), not once: {json.dumps({k: v for k, v in r.items() if k not in ('replicas', 'jobs')})}")


if __name__ == "__main__":
    main()
