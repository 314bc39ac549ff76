"""A complete job's report and model artifact, linked from its page and served to whoever may read the job:
the report sandboxed, the model read from the job's own output in chunks; never another owner's, never a file
a hostile trainer linked in. And a queued --dev job says when it waits on its Bazel target being built."""

from __future__ import annotations

import hashlib
import os
import threading

from railyard.api.routes import outputs
from railyard.launch import binary as binaries
from tests.api.conftest import ALICE, BOB
from tests.api.test_dashboard_charts import MODEL_ID, stored_job
from tests.api.test_explain import wait_for

PAGE = "<!doctype html><title>report</title><style>body{color:red}</style><svg><rect/></svg>"


def complete_job(client, tmp_path, owner: str = "alice", minutes: int = 0) -> str:
    job_id = stored_job(client, tmp_path, owner=owner, kind="training", minutes=minutes,
                        result={"kind": "training", "model_id": MODEL_ID, "metrics": {"kind": "binary_classification"}})
    output = tmp_path / "outputs" / job_id
    (output / "report.html").write_text(PAGE)
    (output / "model").mkdir()
    (output / "model" / MODEL_ID).write_bytes(bytes(range(256)) * 10_000)  # 2.5 MB: three chunks
    return job_id


def test_the_job_page_links_the_report_and_the_model_and_both_are_served(app_factory, tmp_path):
    client = app_factory(dispatch=False, dev=True)
    job_id = complete_job(client, tmp_path)
    page = client.get(f"/ui/job/{job_id}").text
    assert f'href="/job/{job_id}/report" id="report-link"' in page and f'href="/job/{job_id}/model" id="artifact-link"' in page
    report = client.get(f"/job/{job_id}/report")
    assert report.status_code == 200 and report.text == PAGE
    policy = report.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "script" not in policy
    model = client.get(f"/job/{job_id}/model")
    assert model.status_code == 200 and model.headers["content-disposition"] == f'attachment; filename="{MODEL_ID}"'
    expected = (tmp_path / "outputs" / job_id / "model" / MODEL_ID).read_bytes()
    assert len(model.content) == len(expected) > 2 * outputs.MODEL_CHUNK_BYTES
    assert hashlib.sha256(model.content).digest() == hashlib.sha256(expected).digest()


def test_another_owners_report_and_model_are_404_as_if_absent(app_factory, tmp_path, tokens_file):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    job_id = complete_job(client, tmp_path)
    for route in ("report", "model"):
        assert client.get(f"/job/{job_id}/{route}", headers=ALICE).status_code == 200
        refused = client.get(f"/job/{job_id}/{route}", headers=BOB)
        assert refused.status_code == 404 and refused.json()["detail"] == f"no job {job_id}"
        assert client.get(f"/job/{job_id}/{route}").status_code == 401


def test_files_a_trainer_linked_to_the_services_own_or_another_jobs_are_not_served(app_factory, tmp_path):
    client = app_factory(dispatch=False, dev=True)
    job_id = complete_job(client, tmp_path)
    output = tmp_path / "outputs" / job_id
    secret = tmp_path / "service-secret.txt"
    secret.write_text("the service's own file")
    for name in ("report.html", f"model/{MODEL_ID}"):
        (output / name).unlink()
        (output / name).symlink_to(secret)
    for route in ("report", "model"):
        answer = client.get(f"/job/{job_id}/{route}")
        assert answer.status_code == 404 and "service's own" not in answer.text
    other = tmp_path / "outputs" / complete_job(client, tmp_path, owner="bob", minutes=1)
    (output / "model" / MODEL_ID).unlink()
    (output / "model").rmdir()
    (output / "model").symlink_to(other / "model")  # a folder above the file: another owner's model
    assert client.get(f"/job/{job_id}/model").status_code == 404
    (output / "report.html").unlink()
    os.link(other / "report.html", output / "report.html")  # a hard link to another job's report
    assert client.get(f"/job/{job_id}/report").status_code == 404
    (output / "report.html").unlink()
    os.mkfifo(output / "report.html")
    assert client.get(f"/job/{job_id}/report").status_code == 404  # a FIFO is refused; it does not hold the reader


def test_a_report_over_the_limit_or_a_job_not_complete_is_404_with_why(app_factory, tmp_path, monkeypatch):
    client = app_factory(dispatch=False, dev=True)
    job_id = complete_job(client, tmp_path)
    monkeypatch.setattr(outputs, "MAX_REPORT_BYTES", 10)
    assert "over 0 MiB" in client.get(f"/job/{job_id}/report").json()["detail"]
    running = stored_job(client, tmp_path, owner="alice", kind="training", minutes=1, result={}, state="running")
    answer = client.get(f"/job/{running}/model")
    assert answer.status_code == 404 and "is running" in answer.json()["detail"]
    assert 'id="report-link"' not in client.get(f"/ui/job/{running}").text


def test_a_queued_dev_job_says_its_target_is_being_built(app_factory, charges_path, monkeypatch):
    """While the --dev service builds the job's Bazel target, its status, page and the CLI's line say so."""
    from railyard.cli import describe_status
    from railyard.progress_bar import render
    from tests.api.test_dashboard_charts import fraud_spec

    started, release = threading.Event(), threading.Event()

    def slow_build(argv, **kwargs):
        started.set()
        release.wait(30)
        raise OSError("no bazel here")  # the build ends; the job then fails to launch, as it would

    monkeypatch.setattr(binaries.subprocess, "run", slow_build)
    client = app_factory(dev=True)
    job_id = client.post("/train", json={"spec": fraud_spec(charges_path, 5), "binary": "//workflows:fraud_train"}).json()["job_id"]
    try:
        assert started.wait(30)
        status = client.get(f"/job/{job_id}/status").json()
        assert status["job_state"] == "queued" and status["activity"] == "building //workflows:fraud_train"
        assert 'id="activity">building //workflows:fraud_train<' in client.get(f"/ui/job/{job_id}").text
        assert describe_status(status) == f"{job_id} queued (building //workflows:fraud_train)"
        assert render({"step": status["activity"]}, "queued", None) == "building //workflows:fraud_train"
    finally:
        release.set()
    failed = wait_for(client, job_id)  # a build that cannot run fails the job, saying why; the dispatcher goes on
    assert failed["job_state"] == "failed" and failed["reason"] == "LaunchFailed"
    assert failed["message"] == "--binary //workflows:fraud_train: cannot run bazel: no bazel here (make bazel installs it)"
    assert failed["activity"] is None and not binaries.building("//workflows:fraud_train")
