"""GET /jobs at scale's queries: sorted by a holdout metric (best first, a loss lowest first) through every page,
filtered by owner, model name or sweep; a search by model-name substring; each read from an index of its own."""

from __future__ import annotations

import datetime as dt

from railyard.api.store import service
from railyard.api.store.models import Job
from tests.api.conftest import ADMIN, ALICE

AT = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def complete_job(client, index: int, *, owner: str, model_name: str, metrics: dict, sweep_id: str | None = None) -> str:
    job_id = f"job-{index:03d}"
    with client.app.state.sessions() as session:
        job = Job(id=job_id, created_at=AT + dt.timedelta(minutes=index), state="queued", owner=owner, project="p", trainer="t",
                  model_name=model_name, workflow="W", compute_resource="CPU", spec={}, spec_hash="h", binary="b",
                  workflow_modules=[], output=f"/nowhere/{job_id}", sweep_id=sweep_id, trial_number=index if sweep_id else None)
        service.create_job(session, job=job, actor=owner)
        job = service.get_job(session, job_id=job_id)
        for state in ("running", "complete"):
            service.transition(session, job=job, state=state)
        job.metrics = {"kind": "binary_classification", **metrics}
        service.index_metrics(session, job=job)
        session.commit()
    return job_id


def listed(client, query: str, headers=ADMIN) -> list[str]:
    ids, cursor = [], None
    while True:
        page = client.get(f"/jobs?{query}&limit=3" + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert page.status_code == 200, page.text
        ids += [j["job_id"] for j in page.json()["jobs"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return ids


def test_jobs_sorted_by_a_metric_filtered_and_searched(app_factory, tokens_file):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    aucs = [0.71, 0.93, 0.85, 0.93, 0.60, 0.88, 0.79]
    ids = [complete_job(client, i, owner="fraud-team" if i % 2 == 0 else "bob", model_name="fraud model" if i < 5 else "churn model",
                        metrics={"roc_auc": auc, "logloss": 1 - auc}, sweep_id="s1" if i in (2, 3, 6) else None)
           for i, auc in enumerate(aucs)]
    best_first = [ids[i] for i in sorted(range(7), key=lambda i: (-aucs[i], -i))]
    assert listed(client, "sort=metric:roc_auc") == best_first
    assert listed(client, "sort=metric:logloss") == [ids[i] for i in sorted(range(7), key=lambda i: (1 - aucs[i], -i))]
    assert listed(client, "sort=metric:roc_auc", headers=ALICE) == [j for j in best_first if int(j[-3:]) % 2 == 0]  # alice's team's
    assert listed(client, "sort=metric:roc_auc&model_name=churn%20model") == [ids[5], ids[6]]
    assert listed(client, "sort=metric:roc_auc&sweep_id=s1") == [ids[3], ids[2], ids[6]]
    assert listed(client, "sweep_id=s1") == [ids[6], ids[3], ids[2]]
    assert listed(client, "model_name_contains=urn") == [ids[6], ids[5]]
    assert listed(client, "model_name_contains=%25") == []  # a wildcard is only a character
    assert listed(client, "sort=metric:roc_auc&model_name_contains=fraud&owner=bob") == [ids[3], ids[1]]
    assert listed(client, "sort=metric:accuracy") == []  # none recorded it
    summary = client.get("/jobs?sweep_id=s1&limit=1", headers=ADMIN).json()["jobs"][0]
    assert summary["sweep_id"] == "s1" and summary["trial_number"] == 6
    for bad in ("sort=roc_auc", "sort=metric:", "sort=metric:a%20b", "sort=metric:roc_auc&cursor=abc"):
        assert client.get(f"/jobs?{bad}", headers=ADMIN).status_code == 422, bad
    created_cursor = client.get("/jobs?limit=1", headers=ADMIN).json()["next_cursor"]
    assert client.get(f"/jobs?sort=metric:roc_auc&cursor={created_cursor}", headers=ADMIN).status_code == 422  # a cursor of another order
