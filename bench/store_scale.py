"""The job store at scale: GET /jobs pages, the dashboard, a model page and a sweep page with up to ten million
jobs, on SQLite and on PostgreSQL, beside MLflow's search_runs ordered by a metric at the same number of runs.

    python -m bench.store_scale [--sizes 100000,1000000,10000000] [--databases sqlite,postgresql]
                                [--mlflow-sizes 10000,100000,1000000] [--requests 100]

Each store is filled in bulk with SQL, as a long-lived service would hold it: jobs created over a year by 1,000
owners, 10,000 model names, 90% complete with a roc_auc, 1% the trials of 1,000 sweeps; indexes are built after
the rows, then ANALYZE. A filled SQLite store is kept in .cache/store-scale and used again. Each store is served by
`railyard serve --no-dispatch --auth-tokens FILE`, and every request is one HTTP request on a keep-alive
connection from this process (a bearer token of an admin or of a team member), its parameters drawn at random;
the figures are the p50 and p99 of each kind.

MLflow (bench/mlflow-requirements.txt, in its own virtualenv as for bench.api_vs_mlflow) gets the same number of
runs in one experiment, each with a roc_auc metric and a param, written in bulk into its own SQLite schema; its
first page of the runs ordered by a metric, 50 runs, is timed beside Railyard's `GET /jobs?sort=metric:roc_auc`: over
HTTP from `mlflow server` (`POST /api/2.0/mlflow/runs/search`, as Railyard is measured), and in-process
(`MlflowClient.search_runs(order_by=["metrics.roc_auc DESC"], max_results=50)` on its SQLite store, no HTTP: what
MLflow's fastest path costs).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.api_vs_mlflow import REPO, ensure_mlflow, free_port, start, stop, wait_until_up
from bench.replicas import Postgres

CACHE = REPO / ".cache" / "store-scale"
START = 1_767_225_600  # 2026-01-01T00:00:00Z
YEAR = 365 * 86400
OWNERS, MODELS, SWEEPS = 1000, 10_000, 1000
WORDS = ("fraud", "churn", "ltv", "risk", "search")
SPEC = json.dumps({"train": {"custom_params": {"max_depth": 3}}})
SPACE = json.dumps({"train.custom_params.max_depth": {"int": [1, 9]}})

# One row per job n, in SQL either database runs: its columns from n alone.
COLUMNS = {
    "id": "'job-' || lpad_n", "created_at": "{created}", "updated_at": "{created}",
    "state": "CASE WHEN n % 100 < 90 THEN 'complete' WHEN n % 100 < 97 THEN 'failed' ELSE 'cancelled' END",
    "owner": "'team-' || (n % 1000)", "project": "'p'", "trainer": "''", "model_name": "{model}",
    "workflow": "'StripeFraudModel'", "compute_resource": "'CPU'", "spec": "'" + SPEC + "'", "spec_hash": "'h'",
    "binary": "'fraud_train'", "workflow_modules": "'[]'", "output": "'/nowhere/' || n", "kind": "'training'",
    "metrics": "CASE WHEN n % 100 < 90 THEN '{\"kind\": \"binary_classification\", \"roc_auc\": ' || {auc} || '}' END",
    "sweep_id": "CASE WHEN n % 100 = 50 THEN 'sweep-' || ((n / 100) % 1000) END",
    "trial_number": "CASE WHEN n % 100 = 50 THEN n / 100000 END",
}
AUC = "(0.5 + ((n * 7919) % 10007) / 20014.0)"
MODEL = "(CASE n % 5 WHEN 0 THEN 'fraud' WHEN 1 THEN 'churn' WHEN 2 THEN 'ltv' WHEN 3 THEN 'risk' ELSE 'search' END) || '-model-' || ((n * 31) % 10000)"


def fill_sql(dialect: str, count: int) -> list[str]:
    """The statements that insert jobs 0 … count-1 and the metrics of the complete ones."""
    if dialect == "sqlite":
        created = f"strftime('%Y-%m-%d %H:%M:%f', {START} + n * {YEAR / max(count, 1)} + (n % 1000) / 1000.0, 'unixepoch')"
        series = f"WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq LIMIT {count})"
        lpad = "printf('%010d', n)"
    else:
        created = f"to_timestamp({START} + n * {YEAR / max(count, 1)})"
        series = f"WITH seq(n) AS (SELECT generate_series(0, {count - 1})::bigint)"
        lpad = "lpad(n::text, 10, '0')"
    values = {name: expr.replace("lpad_n", lpad).replace("{created}", created).replace("{model}", MODEL).replace("{auc}", AUC)
              for name, expr in COLUMNS.items()}
    if dialect == "postgresql":
        values["metrics"] = f"({values['metrics']})::json"
    quoted = ", ".join(f'"{name}"' for name in values)
    metric = {"job_id": values["id"], "name": "'roc_auc'", "value": AUC, "owner": values["owner"], "model_name": values["model_name"],
              "sweep_id": values["sweep_id"]}
    return [f"{series} INSERT INTO jobs ({quoted}) SELECT {', '.join(values.values())} FROM seq",
            f"{series} INSERT INTO job_metrics ({', '.join(metric)}) SELECT {', '.join(metric.values())} FROM seq WHERE n % 100 < 90"]


def fill(engine, count: int) -> None:
    """`count` jobs, their metrics, model names and sweeps, with every index of the jobs and their metrics built
    after the rows."""
    from railyard.api.store.db import migrate
    from railyard.api.store.models import Base

    migrate(engine)
    tables = [Base.metadata.tables[name] for name in ("jobs", "job_metrics")]
    dialect = engine.dialect.name
    with engine.begin() as connection:
        for table in tables:
            for index in table.indexes:
                index.drop(connection)
        for statement in fill_sql(dialect, count):
            connection.execute(text(statement))
        connection.execute(text("INSERT INTO model_names (model_name) SELECT DISTINCT model_name FROM jobs"))
        as_json = "::json" if dialect == "postgresql" else ""
        connection.execute(text(
            'INSERT INTO sweeps (id, created_at, state, submitted_by, owner, model_name, spec, space, "binary", workflow_modules, metric, '
            "direction, trials, parallel, sampler, pruner, seed) SELECT sweep_id, CURRENT_TIMESTAMP, 'complete', 'bench', "
            f"'team-0', 'fraud-model-0', '{SPEC}'{as_json}, '{SPACE}'{as_json}, 'fraud_train', '[]'{as_json}, 'roc_auc', 'maximize', 100, 4, "
            "'tpe', 'median', 0 FROM (SELECT DISTINCT sweep_id FROM jobs WHERE sweep_id IS NOT NULL) AS swept"))
        for table in tables:
            for index in table.indexes:
                index.create(connection)
        connection.execute(text("ANALYZE"))


def sqlite_store(count: int) -> Path:
    from railyard.api.store.db import make_engine

    path = CACHE / f"jobs-{count}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".filling")
        partial.unlink(missing_ok=True)
        engine = make_engine(str(partial))
        started = time.monotonic()
        fill(engine, count)
        engine.dispose()
        sqlite3.connect(partial).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        partial.rename(path)
        print(f"  filled SQLite with {count:,} jobs in {time.monotonic() - started:.0f} s", flush=True)
    return path


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1)}


def measure_railyard(db: str, count: int, requests: int, work: Path, only: str = "") -> dict:
    tokens = work / "tokens.yaml"
    tokens.write_text("admin-token-0123456789: {owner: root, admin: true}\nmember-token-0123456789: {owner: ana, teams: [team-7]}\n")
    admin, member = ({"Authorization": f"Bearer {who}-token-0123456789"} for who in ("admin", "member"))
    rng = random.Random(7)
    owner = lambda: f"team-{rng.randrange(OWNERS)}"  # noqa: E731
    sweep = lambda: f"sweep-{rng.randrange(min(SWEEPS, count // 100))}"  # noqa: E731  as COLUMNS numbers them
    def model() -> str:
        number = rng.randrange(MODELS)
        return f"{WORDS[number % 5]}-model-{number}"  # as MODEL names them


    def week() -> str:
        start = START + rng.randrange(YEAR - 7 * 86400)
        return f"created_after={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(start))}&created_before=" \
               f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(start + 7 * 86400))}"

    kinds = {
        "jobs: newest": (lambda: "/jobs", admin),
        "jobs: a team member's newest": (lambda: "/jobs", member),
        "jobs: owner": (lambda: f"/jobs?owner={owner()}", admin),
        "jobs: state failed": (lambda: "/jobs?state=failed", admin),
        "jobs: model name": (lambda: f"/jobs?model_name={model()}", admin),
        "jobs: sweep": (lambda: f"/jobs?sweep_id={sweep()}", admin),
        "jobs: a week": (lambda: f"/jobs?{week()}", admin),
        "jobs: by roc_auc": (lambda: "/jobs?sort=metric:roc_auc", admin),
        "jobs: owner by roc_auc": (lambda: f"/jobs?owner={owner()}&sort=metric:roc_auc", admin),
        "jobs: model by roc_auc": (lambda: f"/jobs?model_name={model()}&sort=metric:roc_auc", admin),
        "jobs: sweep by roc_auc": (lambda: f"/jobs?sweep_id={sweep()}&sort=metric:roc_auc", admin),
        "jobs: a team member's by roc_auc": (lambda: "/jobs?sort=metric:roc_auc", member),
        "jobs: model name contains": (lambda: f"/jobs?model_name_contains={model()[1:]}", admin),
        "dashboard: first page": (lambda: "/", admin),
        "model page": (lambda: f"/ui/model/{model()}", admin),
        "sweep page": (lambda: f"/ui/sweep/{sweep()}", admin),
    }
    figures = {}
    port = free_port()
    server = start([sys.executable, "-m", "railyard.cli", "serve", "--no-dispatch", "--port", str(port), "--db", db, "--auth-tokens",
                    str(tokens), "--artifacts", str(work / "runs"), "--jobs-dir", str(work / "jobs")], work / "service.log",
                   {"RAILYARD_ARTIFACTS": str(work)})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", server, work / "service.log")
        client = httpx.Client(base_url=base, timeout=60)
        for name, (path, headers) in kinds.items():
            if only and only not in name:
                continue
            client.get(path(), headers=headers)
            samples = []
            for _ in range(requests):
                url = path()
                started = time.perf_counter()
                answer = client.get(url, headers=headers)
                samples.append(time.perf_counter() - started)
                assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
            figures[name] = percentiles(samples)
            print(f"    {name:36} p50 {figures[name]['p50_ms']:7.1f} ms   p99 {figures[name]['p99_ms']:7.1f} ms", flush=True)
    finally:
        stop(server)
    return figures


MLFLOW_SCRIPT = textwrap.dedent('''
    import json, sqlite3, statistics, sys, time, uuid
    from mlflow.tracking import MlflowClient
    db, count, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("bench") if client.get_experiment_by_name("bench") is None else client.get_experiment_by_name("bench").experiment_id
    connection = sqlite3.connect(db)
    have = connection.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert have <= count, f"{db} holds {have} runs, more than {count}"
    if have < count:
        started = time.monotonic()
        connection.execute("PRAGMA synchronous=OFF")
        batch = 50_000
        for first in range(have, count, batch):
            runs, metrics, latest, params = [], [], [], []
            for n in range(first, min(first + batch, count)):
                run = uuid.uuid4().hex
                at = 1767225600000 + n
                auc = 0.5 + ((n * 7919) % 10007) / 20014.0
                runs.append((run, f"run-{n}", "UNKNOWN", "", "", "bench", "FINISHED", at, at, "", "active", f"/tmp/{run}", experiment))
                metrics.append(("roc_auc", auc, at, run, 0, 0))
                latest.append(("roc_auc", auc, at, 0, 0, run))
                params.append(("max_depth", "3", run))
            connection.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                                   "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
            connection.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)", metrics)
            connection.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?,?,?,?,?,?)", latest)
            connection.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
            connection.commit()
        connection.execute("ANALYZE")
        connection.commit()
        print(f"filled {count} runs in {time.monotonic() - started:.0f} s", file=sys.stderr)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        page = client.search_runs([experiment], order_by=["metrics.roc_auc DESC"], max_results=50)
        samples.append(time.perf_counter() - started)
        assert len(page) == 50
    print(json.dumps({"p50_ms": round(statistics.median(samples) * 1000, 1), "max_ms": round(max(samples) * 1000, 1), "repeats": repeats}))
''')


def measure_mlflow(count: int, repeats: int) -> dict:
    """MLflow's first page of runs ordered by roc_auc: over HTTP from `mlflow server` (as Railyard is measured), and
    in-process (MlflowClient on the SQLite store: its fastest path)."""
    python = ensure_mlflow().parent / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"mlflow-{count}.db"
    answer = subprocess.run([str(python), "-c", MLFLOW_SCRIPT, str(db), str(count), str(repeats)], capture_output=True, text=True, check=True)
    figures = {"in_process": json.loads(answer.stdout.strip().splitlines()[-1])}
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        server = start([str(ensure_mlflow()), "server", "--backend-store-uri", f"sqlite:///{db}", "--default-artifact-root",
                        str(Path(work) / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], Path(work) / "mlflow.log")
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/health", server, Path(work) / "mlflow.log")
            client = httpx.Client(base_url=base, timeout=600)
            experiment = client.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "bench"}).json()["experiment"]["experiment_id"]
            body = {"experiment_ids": [experiment], "order_by": ["metrics.roc_auc DESC"], "max_results": 50}
            samples = []
            for _ in range(repeats + 1):
                started = time.perf_counter()
                page = client.post("/api/2.0/mlflow/runs/search", json=body)
                samples.append(time.perf_counter() - started)
                assert page.status_code == 200 and len(page.json()["runs"]) == 50, page.text[:300]
            samples = samples[1:]  # the first warms the server
            figures["http"] = {"p50_ms": round(statistics.median(samples) * 1000, 1), "max_ms": round(max(samples) * 1000, 1),
                               "repeats": repeats}
        finally:
            stop(server)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--mlflow-sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=100, help="of each kind, per store")
    parser.add_argument("--mlflow-repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="measure only the kinds of request whose name has this text")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    report: dict = {"railyard": {}, "mlflow": {}}
    postgres = Postgres().start() if "postgresql" in args.databases.split(",") else None
    try:
        for count in sizes:
            for database in args.databases.split(","):
                print(f"Railyard on {database}, {count:,} jobs", flush=True)
                with tempfile.TemporaryDirectory() as work:
                    if database == "sqlite":
                        db = str(sqlite_store(count))
                    else:
                        from railyard.api.store.db import make_engine

                        db = postgres.database()
                        engine = make_engine(db)
                        started = time.monotonic()
                        fill(engine, count)
                        engine.dispose()
                        print(f"  filled PostgreSQL with {count:,} jobs in {time.monotonic() - started:.0f} s", flush=True)
                    report["railyard"][f"{database} {count}"] = measure_railyard(db, count, args.requests, Path(work), args.only)
        for count in [int(s) for s in args.mlflow_sizes.split(",") if s]:
            figures = measure_mlflow(count, args.mlflow_repeats)
            report["mlflow"][str(count)] = figures
            ours = report["railyard"].get(f"sqlite {count}", {}).get("jobs: by roc_auc")
            for way, figure in figures.items():
                ratio = f"; Railyard's GET /jobs?sort=metric:roc_auc p50 {ours['p50_ms']} ms: {figure['p50_ms'] / ours['p50_ms']:.0f}× faster" if ours else ""
                print(f"MLflow search_runs ordered by roc_auc ({way}), {count:,} runs: p50 {figure['p50_ms']} ms, max {figure['max_ms']} ms{ratio}",
                      flush=True)
    finally:
        if postgres is not None:
            postgres.stop()
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "store_scale.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
