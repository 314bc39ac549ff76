"""S3 input and output through boto3 and pyarrow, against a real S3-compatible server (moto)."""

import json

import numpy as np
import pandas as pd
import pytest

import railyard
from railyard.errors import StorageError
from railyard.storage import open_store
from tests.conftest import example_spec, run_trainer, write_spec


def test_store_round_trip_and_listing(aws):
    store = open_store("s3://ml-data/some/prefix")
    assert store.write_text("a/b.json", "{}") == "s3://ml-data/some/prefix/a/b.json"
    assert store.read_bytes("a/b.json") == b"{}"
    assert store.exists("a/b.json") and not store.exists("a/b")
    assert list(store.list()) == ["a/b.json"]
    with pytest.raises(StorageError, match="cannot read s3://ml-data/some/prefix/missing"):
        store.read_bytes("missing")


def test_read_range_reads_only_the_range(aws):
    store = open_store("s3://ml-data/runs/job-3")
    store.write_bytes("trainer.log", b"0123456789")
    sent = []

    def record(request, **_):
        sent.append(request.headers["Range"])

    store.client.meta.events.register("before-send.s3.GetObject", record)  # the process's one client: taken off below
    try:
        assert store.read_range("trainer.log", 0, 4) == b"0123"
        assert store.read_range("trainer.log", 8, 4) == b"89"
    finally:
        store.client.meta.events.unregister("before-send.s3.GetObject", record)
    assert sent == [b"bytes=0-3", b"bytes=8-11"]
    assert store.read_range("trainer.log", 10, 4) == b""
    assert store.read_range("trainer.log", 3, 0) == b""
    with pytest.raises(StorageError, match="cannot read s3://ml-data/runs/job-3/missing.log"):
        store.read_range("missing.log", 0, 4)
    with pytest.raises(ValueError, match="expected a non-negative offset and length"):
        store.read_range("trainer.log", -4, 4)  # would be a suffix range in HTTP


@pytest.mark.slow
def test_train_from_s3_data_to_s3_output(aws, s3_env, tmp_path, charges_path):
    aws.upload_file(str(charges_path), "ml-data", "fraud/charges.parquet")
    spec = example_spec("fraud", "s3://ml-data/fraud/charges.parquet")
    spec["train"]["custom_params"]["n_estimators"] = 30
    run = run_trainer("--spec", write_spec(tmp_path, spec), "--output", "s3://ml-data/runs/job-7", "--job-id", "job-7", env=s3_env)
    assert run.returncode == 0, run.stderr

    keys = sorted(o["Key"] for o in aws.list_objects_v2(Bucket="ml-data", Prefix="runs/job-7/")["Contents"])
    result = json.loads(aws.get_object(Bucket="ml-data", Key="runs/job-7/result.json")["Body"].read())
    model_id = result["result"]["model_id"]
    assert keys == sorted(
        f"runs/job-7/{name}" for name in ["charts.json", "labels.tsv", "metrics.json", f"model/{model_id}", "progress.json",
                                          "report.html", "result.json", "scores.tsv", "trainer.log"]
    )
    assert result["result"]["report"] == "s3://ml-data/runs/job-7/report.html"
    assert result["status"]["transition"]["job_state"] == "complete"
    assert result["status"]["log_file"] == "s3://ml-data/runs/job-7/trainer.log"
    assert result["result"]["evaluation_holdout_data_path"] == "s3://ml-data/runs/job-7/scores.tsv"
    assert b"[railyard] complete" in aws.get_object(Bucket="ml-data", Key="runs/job-7/trainer.log")["Body"].read()

    by_prefix = railyard.load_model("s3://ml-data/runs/job-7", expected_id=model_id)
    by_id = railyard.load_model(model_id, root="s3://ml-data/runs")
    assert by_prefix.model_id == by_id.model_id == model_id
    frame = pd.read_parquet(charges_path).head(500)
    np.testing.assert_array_equal(by_prefix.score(frame), by_id.score(frame))


@pytest.mark.slow
def test_s3_data_errors_name_the_path(aws, s3_env, tmp_path):
    spec = example_spec("fraud", "s3://ml-data/absent/charges.parquet")
    run = run_trainer("--spec", write_spec(tmp_path, spec), "--output", tmp_path / "out", env=s3_env)
    assert run.returncode == 2
    assert "data.features[0].path: s3://ml-data/absent/charges.parquet does not exist" in run.stderr


def test_objects_are_written_private(aws, tmp_path):
    store = open_store("s3://ml-data/runs/job-4")
    store.write_text("result.json", "{}")
    (tmp_path / "scores.tsv").write_text("0.5\n")
    store.put_file("scores.tsv", tmp_path / "scores.tsv")
    for key in ("runs/job-4/result.json", "runs/job-4/scores.tsv"):
        grants = aws.get_object_acl(Bucket="ml-data", Key=key)["Grants"]
        assert [g["Grantee"].get("URI") for g in grants] == [None], grants  # the owner's one grant, to no group
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]


def test_stores_share_one_client_per_aws_configuration(aws, monkeypatch):
    first, second = open_store("s3://ml-data/runs/a"), open_store("s3://ml-data/runs/b")
    assert first.client is second.client  # a result.json read per finished job makes no client of its own
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    elsewhere = open_store("s3://ml-data/runs/a")
    assert elsewhere.client is not first.client and elsewhere.client.meta.endpoint_url == "http://127.0.0.1:9"


def test_stores_opened_at_once_from_many_threads_share_one_client(aws, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:10")  # a configuration no client was made for yet
    with ThreadPoolExecutor(16) as pool:  # as the service's result readers start on a burst of finished jobs
        clients = list(pool.map(lambda _: open_store("s3://ml-data/runs/a").client, range(16)))
    assert len({id(c) for c in clients}) == 1
