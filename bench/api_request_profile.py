"""Where one API request's time goes, layer by layer: GET /job/{id}/status and POST /train, in CPU ms.

    python -m bench.api_request_profile [--jobs 100000] [--repeat 2000]

The service is built in this process as bench.api_vs_mlflow serves it (its tokens
file, --jobs finished jobs in the store, the fraud trainer published, every
control at its default) and driven through its ASGI interface one request at a
time, so that each figure is CPU time free of other requests' contention:

    whole          the request through every layer the service adds (security
                   headers, allowed hosts, authentication, body limits, routing,
                   dependencies), its database work run in place
    auth           the bearer token looked up: its sha256 compared with every entry
    body           the request body parsed and validated (the spec and its checks)
    database       the route's reads and writes, in a session of its own
    serialization  the answer built and rendered as JSON
    framework      what the whole request takes beyond those
    thread hop     the same request with its database work in the point-work thread,
                   as served, less the request run in place

The HTTP server (uvicorn parsing and writing the request) comes on top: the
server CPU per request that bench.api_vs_mlflow prints holds it, and the hops'
cost under load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import platform
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import anyio.to_thread
from fastapi.responses import JSONResponse

from bench.api_vs_mlflow import OUT, OWNERS, REPO, TOKEN, fill_store, tokens_file
from railyard.api.app import create_app
from railyard.api.point_work import PointWork
from railyard.api.routes.jobs import status_of
from railyard.api.schemas import TrainRequest, TrainResponse
from railyard.api.settings import Settings
from railyard.api.store import service
from railyard.api.store.models import Job, utcnow
from railyard.api.trainer_binaries import choose
from railyard.launch.binary import build_target

CHUNK = 1 << 20
ROUNDS = 10


async def call(app, method: str, path: str, body: bytes = b"", content_type: bytes = b"application/json") -> tuple[int, bytes]:
    """One request through the ASGI app: (status, body)."""
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {TOKEN}".encode())]
    if body:
        headers += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080)}
    chunks = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)]
    answer = {"status": 0, "body": b""}

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # no disconnect while the request runs

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


@contextlib.contextmanager
def database_in_place():
    """The thread pool's calls and the point work run in the calling thread: a request's work without the hop
    to a worker thread."""
    hop, point_hop = anyio.to_thread.run_sync, PointWork.run

    async def in_place(func, *args, abandon_on_cancel=False, cancellable=None, limiter=None):
        return func(*args)

    async def point_work_in_place(self, func, *args):
        return func(*args)

    anyio.to_thread.run_sync, PointWork.run = in_place, point_work_in_place
    try:
        yield
    finally:
        anyio.to_thread.run_sync, PointWork.run = hop, point_hop


async def cpu_ms(work, calls: int) -> float:
    """The process CPU ms one call of `work` (awaited if a coroutine function) takes, over `calls` calls."""
    started = time.process_time()
    for _ in range(calls):
        if asyncio.iscoroutinefunction(work):
            await work()
        else:
            work()
    return (time.process_time() - started) * 1000 / calls


async def layer_ms(whole, pieces: dict, repeat: int) -> dict[str, float]:
    """Each layer's CPU ms, the median of ROUNDS rounds that take every measure in turn, so that all of them
    meet the same machine (a shared one's speed drifts within a minute)."""
    rounds = {"whole": [], **{piece: [] for piece in pieces}, "served": []}
    for _ in range(ROUNDS):
        with database_in_place():
            rounds["whole"].append(await cpu_ms(whole, repeat // ROUNDS))
            for piece, work in pieces.items():
                rounds[piece].append(await cpu_ms(work, repeat // ROUNDS))
        rounds["served"].append(await cpu_ms(whole, repeat // ROUNDS))
    ms = {name: statistics.median(values) for name, values in rounds.items()}
    served = ms.pop("served")
    return {**ms, "framework": ms["whole"] - sum(ms[piece] for piece in pieces), "thread hop": served - ms["whole"]}


async def profile(app, ids: list[str], binary: str, repeat: int) -> dict:
    state = app.state
    spec = json.loads((REPO / "workflows" / "fraud" / "spec.json").read_text())
    for source in spec["data"]["features"]:
        source["path"] = str(REPO / source["path"])
    bodies = [json.dumps({"spec": {**spec, "metadata": {**spec["metadata"], "owner": owner}}, "binary": binary}).encode()
              for owner in OWNERS]
    turn = iter(range(1 << 62))

    async def get_status():
        status, _ = await call(app, "GET", f"/job/{ids[next(turn) % len(ids)]}/status")
        assert status == 200, status

    async def post_train():
        status, answer = await call(app, "POST", "/train", bodies[next(turn) % len(bodies)])
        assert status == 202, answer

    def read_job():
        with state.sessions() as session:
            job = service.get_job(session, job_id=ids[next(turn) % len(ids)])
            session.commit()
        return job

    job = read_job()
    request = TrainRequest.model_validate_json(bodies[0])
    store = state.parts.binary_store

    def write_job():
        owner = OWNERS[next(turn) % len(OWNERS)]
        with state.sessions() as session:
            chosen = choose(session, store, binary, [], dev=False)
            with state.parts.write_lock:
                service.count_queued(session, owner=owner, up_to=state.parts.settings.max_queued_per_owner)
                job_id = str(uuid.uuid4())
                service.create_job(session, actor="bench", job=Job(
                    id=job_id, created_at=utcnow(), state="queued", submitted_by="bench", owner=owner, project="p",
                    trainer="t", model_name="m", workflow="StripeFraudModel", compute_resource="CPU", spec=spec,
                    spec_hash="0" * 64, binary=chosen.reference, binary_sha256=chosen.sha256, git_commit=chosen.git_commit,
                    workflow_modules=[], output=f"/x/{job_id}", data_prefixes=[str(REPO / "sample-data") + "/"]))
                session.commit()

    def route_checks():  # what queue_job computes besides the database: hashes and the spec as stored
        hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        json.loads(request.spec.to_json())
        request.spec.spec_hash()

    layers = {}
    for name, whole, pieces in (
        ("GET /job/{id}/status", get_status, {
            "auth": lambda: state.parts.tokens.principal(TOKEN),
            "database": read_job,
            "serialization": lambda: status_of(job).model_dump_json(),
        }),
        ("POST /train", post_train, {
            "auth": lambda: state.parts.tokens.principal(TOKEN),
            "body": lambda: TrainRequest.model_validate(json.loads(bodies[0])),
            "database": write_job,
            "route checks": route_checks,
            "serialization": lambda: JSONResponse(TrainResponse(job_id=str(uuid.uuid4())).model_dump(), status_code=202),
        }),
    ):
        layers[name] = await layer_ms(whole, pieces, repeat)
    return layers


async def served(app, ids: list[str], repeat: int) -> dict:
    """The profile, inside the app's lifespan and one task throughout (as a server's), the fraud trainer published."""
    async with app.router.lifespan_context(app):
        status, published = await call(app, "POST", "/binaries", Path(build_target("//workflows:fraud_train")).read_bytes(),
                                       b"application/octet-stream")
        assert status in (200, 201), published
        return await profile(app, ids, json.loads(published)["ref"], repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="railyard-api-profile-"))
    spec = json.loads((REPO / "workflows" / "fraud" / "spec.json").read_text())
    try:
        print(f"filling the Railyard store with {args.jobs:,} jobs ...", flush=True)
        ids = fill_store(work / "railyard.db", args.jobs, spec)
        app = create_app(Settings(db=str(work / "railyard.db"), artifacts=str(work / "runs"), jobs_dir=str(work / "jobs"),
                                  binaries_dir=str(work / "binaries"), dispatch=False,
                                  auth_tokens=str(tokens_file(work / "tokens.json"))))
        layers = asyncio.run(served(app, ids, args.repeat))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "stored_jobs": args.jobs, "cpu_ms": {name: {k: round(v, 3) for k, v in parts.items()} for name, parts in layers.items()}}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "api_request_profile.json").write_text(json.dumps(report, indent=2))
    print(f"\nCPU ms of one request, one at a time, {args.jobs:,} jobs stored ({report['machine']})")
    for name, parts in report["cpu_ms"].items():
        print(f"\n{name}")
        for part, ms in parts.items():
            print(f"  {part:16}{ms:>8.3f}")


if __name__ == "__main__":
    main()
