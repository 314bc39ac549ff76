"""The API service under load, against an MLflow tracking server as the reference, in one run.

    python -m bench.api_vs_mlflow [--jobs 100000] [--clients 16] [--seconds 15] [--rounds 3]

Railyard: `railyard serve --no-dispatch --auth-tokens FILE` on SQLite with
--jobs jobs already in the store, every control in place at its default (allowed
hosts, security headers, authentication before the body, body limits, the
queued-jobs cap per owner); load: POST /train and GET /job/{id}/status, each
with a bearer token. The token's principal submits for its OWNERS teams in turn,
so that no owner reaches the cap of queued jobs while each submit still counts
its owner's. MLflow: `mlflow server` on SQLite (one worker, like Railyard);
load: runs/create and runs/get. Both services run at once; each load runs for
--seconds from --clients concurrent keep-alive clients in a separate process,
in --rounds turns that alternate with the other service's load of the same
kind, so that both meet the same machine. The clients are the standard
library's keep-alive connections with bodies encoded once: on two cores,
httpx's client spent as much CPU per request as the server it measured. It
prints throughput, p50/p99 latency and the server's CPU time per request
(every process the server started included) side by side.
MLflow comes from bench/mlflow-requirements.txt in its own virtualenv
(.cache/mlflow-venv), so that it does not enter the project's lock.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from railyard.client import Client
from railyard.launch.binary import build_target

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
MLFLOW_VENV = REPO / ".cache" / "mlflow-venv"
TOKEN = "bench-" + "0123456789abcdef" * 2
OWNERS = [f"team-{i:02d}" for i in range(64)]
OTHER_PRINCIPALS = 50  # the token is compared with every entry of the tokens file


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"server did not start:\n{log.read_text()[-3000:]}")


def fill_store(db: Path, count: int, spec: dict) -> list[str]:
    """Insert `count` finished jobs straight into the store, as a long-lived service would have."""
    from railyard.api.store.db import make_engine, migrate
    from railyard.api.store.models import Job, Transition

    engine = make_engine(str(db))
    migrate(engine)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    now = time.time()
    import datetime as dt

    rows, transitions = [], []
    for i, job_id in enumerate(ids):
        created = dt.datetime.fromtimestamp(now - count + i, dt.timezone.utc)
        rows.append(dict(id=job_id, created_at=created, updated_at=created, state="complete", owner="team-a", project="p",
                         trainer="", model_name=f"model-{i % 100}", workflow="StripeFraudModel", compute_resource="CPU",
                         spec=spec, spec_hash="0" * 64, binary="//workflows:fraud_train", workflow_modules=[], output=f"/x/{job_id}"))
        transitions.append(dict(job_id=job_id, state="queued", at=created))
        transitions.append(dict(job_id=job_id, state="complete", at=created))
    with engine.begin() as connection:
        connection.execute(Job.__table__.insert(), rows)
        connection.execute(Transition.__table__.insert(), transitions)
    engine.dispose()
    return ids


def tokens_file(path: Path) -> Path:
    """The bench's principal (publishes, submits for OWNERS, reads team-a's stored jobs) among others."""
    entries = {TOKEN: {"owner": "bench", "teams": ["team-a", *OWNERS], "publish": True,
                       "data_prefixes": [str(REPO / "sample-data") + "/"]}}
    for i in range(OTHER_PRINCIPALS):
        entries[f"sha256:{i:064x}"] = {"owner": f"user-{i}", "teams": [f"team-{i}"]}
    path.write_text(json.dumps(entries))
    return path


def _client_loop(kind: str, base: str, payloads: list[dict], ids: list[str], until: float, latencies: list, errors: list) -> None:
    """One keep-alive client, on the standard library's HTTP/1.1 connection (see the module's docstring)."""
    host, port = base.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {TOKEN}"} if kind.startswith("railyard") else {}
    bodies = [json.dumps(payload).encode() for payload in payloads]
    mlflow_body = json.dumps({"experiment_id": "0", "start_time": 0}).encode()
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    rng = random.Random()
    turn = rng.randrange(len(bodies) or 1)
    while time.perf_counter() < until:
        started = time.perf_counter()
        try:
            if kind == "railyard-create":
                turn += 1
                connection.request("POST", "/train", bodies[turn % len(bodies)], {**headers, "Content-Type": "application/json"})
            elif kind == "railyard-get":
                connection.request("GET", f"/job/{rng.choice(ids)}/status", headers=headers)
            elif kind == "mlflow-create":
                connection.request("POST", "/api/2.0/mlflow/runs/create", mlflow_body, {"Content-Type": "application/json"})
            else:
                connection.request("GET", f"/api/2.0/mlflow/runs/get?run_id={rng.choice(ids)}")
            response = connection.getresponse()
            response.read()
            ok = response.status < 400
        except (OSError, http.client.HTTPException):
            connection.close()  # the next request opens a new connection
            ok = False
        (latencies if ok else errors).append(time.perf_counter() - started)
    connection.close()


def _load_process(kind: str, base: str, payloads: list[dict], ids: list[str], clients: int, seconds: float, queue) -> None:
    latencies, errors = [], []
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=_client_loop, args=(kind, base, payloads, ids, until, latencies, errors)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((latencies, len(errors)))


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user and system) of every process of the server's session: a server and all it started."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[3]) == server.pid:  # the session id: start() gives each server a session of its own
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Load:
    """One kind of load on one server, run in rounds; what the rounds measured, added up."""

    kind: str
    base: str
    server: subprocess.Popen
    payloads: list[dict]
    ids: list[str]
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    busy: float = 0.0  # the server's CPU seconds

    def run(self, clients: int, seconds: float) -> None:
        queue = multiprocessing.get_context("fork").Queue()
        process = multiprocessing.get_context("fork").Process(
            target=_load_process, args=(self.kind, self.base, self.payloads, self.ids, clients, seconds, queue))
        busy = server_cpu_seconds(self.server)
        process.start()
        latencies, errors = queue.get()
        process.join()
        self.busy += server_cpu_seconds(self.server) - busy
        self.latencies += latencies
        self.errors += errors
        self.seconds += seconds

    def summary(self) -> dict:
        latencies = sorted(self.latencies)
        return {
            "requests": len(latencies),
            "errors": self.errors,
            "throughput_per_s": round(len(latencies) / self.seconds, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
            "server_cpu_ms_per_request": round(self.busy * 1000 / max(1, len(latencies) + self.errors), 2),
        }


def side_by_side(railyard: Load, mlflow: Load, clients: int, seconds: float, rounds: int) -> None:
    """`seconds` of each load in `rounds` alternating turns (Railyard first, then MLflow first, ...), so that both
    services meet the same machine: on a shared one, its speed drifts within a minute."""
    for turn in range(rounds):
        for load in (railyard, mlflow) if turn % 2 == 0 else (mlflow, railyard):
            load.run(clients, seconds / rounds)


def start(argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def ensure_mlflow() -> Path:
    mlflow = MLFLOW_VENV / "bin" / "mlflow"
    if not mlflow.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(MLFLOW_VENV / "bin" / "pip"), "install", "--quiet", "-r", str(REPO / "bench" / "mlflow-requirements.txt")], check=True)
    return mlflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="railyard-api-bench-"))
    spec = json.loads((REPO / "workflows" / "fraud" / "spec.json").read_text())
    for source in spec["data"]["features"]:
        source["path"] = str(REPO / source["path"])  # as the CLI sends it: a service with tokens takes absolute paths
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "stored_jobs": args.jobs, "clients": args.clients, "seconds": args.seconds, "rounds": args.rounds}
    servers = []
    try:
        print(f"filling the Railyard store with {args.jobs:,} jobs ...", flush=True)
        ids = fill_store(work / "railyard.db", args.jobs, spec)
        port = free_port()
        railyard = start([sys.executable, "-m", "railyard.cli", "serve", "--no-dispatch", "--port", str(port),
                          "--db", str(work / "railyard.db"), "--jobs-dir", str(work / "jobs"),
                          "--auth-tokens", str(tokens_file(work / "tokens.json"))], work / "railyard.log")
        servers.append(railyard)
        railyard_base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{railyard_base}/healthz", railyard, work / "railyard.log")
        published = Client(railyard_base, token=TOKEN, timeout=600).publish(build_target("//workflows:fraud_train"))
        bodies = [{"spec": {**spec, "metadata": {**spec["metadata"], "owner": owner}}, "binary": published["ref"]}
                  for owner in OWNERS]

        port = free_port()
        mlflow = start([str(ensure_mlflow()), "server", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
                        "--default-artifact-root", str(work / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
                        "--workers", "1"], work / "mlflow.log")
        servers.append(mlflow)
        mlflow_base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{mlflow_base}/health", mlflow, work / "mlflow.log")
        run_ids = [httpx.post(f"{mlflow_base}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
                   for _ in range(200)]

        loads = {"railyard_post_train": Load("railyard-create", railyard_base, railyard, bodies, ids),
                 "mlflow_create_run": Load("mlflow-create", mlflow_base, mlflow, [], run_ids),
                 "railyard_get_status": Load("railyard-get", railyard_base, railyard, [], ids),
                 "mlflow_get_run": Load("mlflow-get", mlflow_base, mlflow, [], run_ids)}
        side_by_side(loads["railyard_post_train"], loads["mlflow_create_run"], args.clients, args.seconds, args.rounds)
        side_by_side(loads["railyard_get_status"], loads["mlflow_get_run"], args.clients, args.seconds, args.rounds)
        report.update({name: load.summary() for name, load in loads.items()})
    finally:
        for server in servers:
            stop(server)
        shutil.rmtree(work, ignore_errors=True)

    report["create_ratio"] = round(report["railyard_post_train"]["throughput_per_s"] / report["mlflow_create_run"]["throughput_per_s"], 2)
    report["get_ratio"] = round(report["railyard_get_status"]["throughput_per_s"] / report["mlflow_get_run"]["throughput_per_s"], 2)
    (OUT / "api_vs_mlflow.json").write_text(json.dumps(report, indent=2))
    print(f"\n{args.clients} clients for {args.seconds:g} s each, Railyard store holding {args.jobs:,} jobs ({report['machine']})")
    print(f"{'':28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'server CPU ms/req':>19}")
    for name in ("railyard_post_train", "mlflow_create_run", "railyard_get_status", "mlflow_get_run"):
        r = report[name]
        print(f"{name:28}{r['throughput_per_s']:>10.1f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['errors']:>8}"
              f"{r['server_cpu_ms_per_request']:>19.2f}")
    print(f"throughput ratio, create: {report['create_ratio']}x, get: {report['get_ratio']}x (target >= 5x, Railyard p99 < 50 ms)")


if __name__ == "__main__":
    main()
