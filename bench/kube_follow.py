"""Following running Kubernetes Jobs: the watched cache against two LISTs per job, in one run.

    python -m bench.kube_follow [--jobs 1000] [--seconds 20] [--complete-rate 100]

For each way, a fresh fake API server (tests/launch/fake_kube_api.py, in this
process) holds --jobs running Jobs, each with a running pod, rendered from the
fraud spec. A follower process asks KubernetesExecutor.status for every
unfinished job, then waits 0.5 s, as the service's dispatcher does. Once it
has gone round once, the API requests it makes are counted for --seconds (the
steady state); then every job is completed, --complete-rate a second, and the
time from each Job's completion event to the follower's first `complete` is
taken (p50/p99). Each Job's result.json, which the executor reads to tell
complete from NoResult, lies in a real S3-compatible server (moto's, in this
process, as the tests start it). "per-job requests" is the executor with
use_cache=False; "watched cache" is the default. Results also go to
bench/out/kube_follow.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import multiprocessing
import os
import platform
import statistics
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
POLL_SECONDS = 0.5
RUNNING_POD = {"phase": "Running", "containerStatuses": [{"name": "trainer", "ready": True, "restartCount": 0, "image": "python:3.11-slim",
                                                          "imageID": "", "state": {"running": {"startedAt": "2026-11-27T00:00:00Z"}}}]}
SUCCEEDED_POD = {"phase": "Succeeded", "containerStatuses": [{"name": "trainer", "ready": False, "restartCount": 0, "image": "python:3.11-slim",
                                                              "imageID": "", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}
COMPLETE = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}


def follow(url: str, job_ids: list[str], use_cache: bool, conn) -> None:
    """The dispatcher's loop, in its own process: status for every unfinished job, then wait 0.5 s."""
    from kubernetes import client

    from railyard.launch.kubernetes import KubernetesExecutor
    from railyard.launch.resources import load_config

    executor = KubernetesExecutor(load_config(), api=client.ApiClient(client.Configuration(host=url)), use_cache=use_cache)
    pending, seen, sweeps = list(job_ids), {}, []
    while pending:
        started = time.monotonic()
        for job_id in pending:
            if executor.status(job_id).state.finished:
                seen[job_id] = time.monotonic()
        pending = [j for j in pending if j not in seen]
        sweeps.append((started, time.monotonic() - started))
        if len(sweeps) == 1:
            conn.send("ready")
        if conn.poll(POLL_SECONDS) and conn.recv() == "stop":
            break
    executor.close()
    conn.send({"seen": seen, "sweeps": sweeps})


def running_jobs(fake, count: int) -> list[str]:
    from railyard.launch.job import Binary, JobRequest
    from railyard.launch.render import job_name, render
    from railyard.launch.resources import load_config
    from railyard.spec import load_spec

    config, spec = load_config(), load_spec(REPO / "workflows" / "fraud" / "spec.json")
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"features": [
        spec.data.features[0].model_copy(update={"path": "s3://ml-data/charges.parquet"})]})})
    binary = Binary("fraud_train.pex", hashlib.sha256(b"trainer").hexdigest(), "//workflows:fraud_train")
    job_ids = [str(uuid.uuid4()) for _ in range(count)]
    for job_id in job_ids:
        name = job_name(job_id)
        fake.create("jobs", render(JobRequest(job_id, spec, binary, f"{config.artifacts}/runs/{job_id}"), config)[2])
        fake.set_job_status(name, {"active": 1})
        fake.add_pod(name, f"{name}-pod01", RUNNING_POD)
    return job_ids


def artifact_store():
    """A real S3-compatible server holding the artifacts bucket; the follower process inherits its address."""
    import boto3
    from moto.server import ThreadedMotoServer

    from railyard.launch.resources import load_config
    from tests.conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request is the bench's cost, not the follower's
    server.start()
    os.environ.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    bucket = load_config().artifacts.removeprefix("s3://").split("/")[0]
    boto3.client("s3").create_bucket(Bucket=bucket)
    return server, bucket


def complete_result(client, bucket: str, job_id: str) -> None:
    document = {"status": {"job_id": job_id, "transition": {"job_state": "complete"}}, "result": {"kind": "training"},
                "exception_info": None}
    client.put_object(Bucket=bucket, Key=f"runs/{job_id}/result.json", Body=json.dumps(document).encode())


def measure(jobs: int, seconds: float, rate: float, use_cache: bool) -> dict:
    import boto3

    from railyard.launch.render import job_name
    from tests.launch.fake_kube_api import FakeKubeAPI

    fake = FakeKubeAPI().start()
    store, bucket = artifact_store()
    try:
        job_ids = running_jobs(fake, jobs)
        client = boto3.client("s3")
        for job_id in job_ids:
            complete_result(client, bucket, job_id)
        ours, theirs = multiprocessing.get_context("spawn").Pipe()
        follower = multiprocessing.get_context("spawn").Process(target=follow, args=(fake.url, job_ids, use_cache, theirs))
        follower.start()
        if not ours.poll(300) or ours.recv() != "ready":
            raise SystemExit("the follower did not go round once in 300 s")

        since, started = len(fake.queries), time.monotonic()
        time.sleep(seconds)
        steady = fake.count(since), fake.count(since, watch=True), time.monotonic() - started

        completed = {}
        for i, job_id in enumerate(job_ids):
            time.sleep(max(0.0, started + steady[2] + i / rate - time.monotonic()))
            fake.set_pod_status(f"{job_name(job_id)}-pod01", SUCCEEDED_POD)
            fake.set_job_status(job_name(job_id), COMPLETE)
            completed[job_id] = time.monotonic()
        if not ours.poll(300):
            ours.send("stop")
        report = ours.recv()
        follower.join(timeout=30)
    finally:
        fake.stop()
        store.stop()

    requests, watches, window = steady
    latencies = sorted(report["seen"][j] - completed[j] for j in job_ids if j in report["seen"])
    in_window = [took for at, took in report["sweeps"] if started <= at < started + window]
    return {
        "jobs": jobs,
        "requests_per_second": round(requests / window, 2),
        "watch_requests_in_window": watches,
        "window_seconds": round(window, 1),
        "sweep_seconds_median": round(statistics.median(in_window or [t for _, t in report["sweeps"]]), 4),
        "completions_seen": len(latencies),
        "complete_latency_p50_seconds": round(percentile(latencies, 50), 3),
        "complete_latency_p99_seconds": round(percentile(latencies, 99), 3),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--complete-rate", type=float, default=100, help="jobs completed a second")
    args = parser.parse_args()

    results = {}
    for way, use_cache in (("per-job requests", False), ("watched cache", True)):
        print(f"following {args.jobs:,} jobs with {way} ...", flush=True)
        results[way] = measure(args.jobs, args.seconds, args.complete_rate, use_cache)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}", **results}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "kube_follow.json").write_text(json.dumps(report, indent=2))

    before, after = results["per-job requests"], results["watched cache"]
    print(f"\n{args.jobs:,} running Jobs, status of each every {POLL_SECONDS} s ({report['machine']})")
    print(f"{'':44}{'per-job requests':>18}{'watched cache':>16}")
    rows = [
        ("API requests/s, steady state (target < 5)", "requests_per_second", "{:.1f}"),
        ("one sweep of every job, median", "sweep_seconds_median", "{:.3f} s"),
        ("completion to status complete, p50", "complete_latency_p50_seconds", "{:.2f} s"),
        ("completion to status complete, p99 (< 2 s)", "complete_latency_p99_seconds", "{:.2f} s"),
        ("completions seen", "completions_seen", "{:,}"),
    ]
    for label, key, form in rows:
        print(f"{label:44}{form.format(before[key]):>18}{form.format(after[key]):>16}")
    print(f"(the cache's requests in the {after['window_seconds']} s window were watch renewals: {after['watch_requests_in_window']})")


if __name__ == "__main__":
    main()
