"""A complete training job's holdout metrics live on the job, so that lists of runs (the dashboard's, `GET /jobs`,
`railyard jobs`) read no result file per row: recorded when the job ends, and for jobs that ended before the
service recorded them, by the dispatcher from their result.json, once."""

from __future__ import annotations

import time

from railyard.api import dispatcher
from tests.api.test_dashboard_charts import stored_job

METRICS = {"kind": "binary_classification", "roc_auc": 0.75, "rows": 2_000, "huge": 10**400, "flag": True}


def listed(client) -> dict:
    return {job["job_id"]: job for job in client.get("/jobs?limit=500").json()["jobs"]}


def test_jobs_that_ended_before_metrics_were_recorded_get_them_from_their_result(app_factory, tmp_path, monkeypatch):
    monkeypatch.setattr(dispatcher, "BACKFILL_BATCH", 2)  # three ticks' worth
    idle = app_factory(dispatch=False, dev=True)
    old = [stored_job(idle, tmp_path, owner="alice", kind="training", minutes=m, result={"kind": "training", "metrics": METRICS})
           for m in range(4)]
    without = stored_job(idle, tmp_path, owner="alice", kind="training", minutes=9, result={"kind": "training"})
    assert {job["metrics"] for job in listed(idle).values()} == {None}
    page = idle.get("/").text
    assert "roc_auc 0.75" not in page  # the list reads no result file

    idle.__exit__(None, None, None)
    client = app_factory(dev=True)  # the upgraded service, on the same database
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(listed(client)[job_id]["metrics"] is None for job_id in [*old, without]):
        time.sleep(0.2)
    jobs = listed(client)
    assert all(jobs[job_id]["metrics"] == {"kind": "binary_classification", "roc_auc": 0.75, "rows": 2_000} for job_id in old)
    assert jobs[without]["metrics"] == {}  # read, and it gave none: not read again
    assert "roc_auc 0.75" in client.get("/").text
