"""`railyard predict`: batch scoring in bounded memory, the model id in the output, and refusal of
tampered or unverifiable artifacts and of data without the model's features."""

import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import railyard
from railyard.model.artifact import MANIFEST, pack
from railyard.scoring import score_dataset
from tests.conftest import REPO, example_spec, write_spec
from workflows.data import charges

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, charges_path):
    tmp = tmp_path_factory.mktemp("model")
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 20
    from railyard import trainer

    assert trainer.main(["--spec", str(write_spec(tmp, spec)), "--output", str(tmp / "run")]) == 0
    return tmp / "run"


@pytest.fixture(scope="module")
def model_id(trained):
    return json.loads((trained / "result.json").read_text())["result"]["model_id"]


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    return charges.write(1_000_000, tmp_path_factory.mktemp("big") / "charges.parquet", row_group_rows=50_000)


def predict(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "railyard.cli", "predict", *map(str, args)], cwd=REPO, capture_output=True, text=True)


def peak_rss_of_predict(model: str, model_id: str, data, output, batch_rows: int) -> int:
    """Peak resident memory (bytes) of a `railyard predict` process, as it reports it (the kernel's VmHWM)."""
    run = predict("--model", model, "--model-id", model_id, "--data", data, "--output", output, "--batch-rows", batch_rows)
    assert run.returncode == 0, run.stderr
    return int(re.search(r"peak memory (\d+) MiB", run.stdout).group(1)) * 2**20


def test_scores_match_the_holdout_and_record_the_model_id(trained, model_id, charges_path, tmp_path):
    report = score_dataset(str(trained), str(charges_path), str(tmp_path / "scores.parquet"), batch_rows=3_000, keep=("charge_id",),
                           expected_id=model_id)
    model = railyard.load_model(str(trained), expected_id=model_id)
    table = pq.read_table(tmp_path / "scores.parquet")
    assert report.rows == table.num_rows == 20_000 and report.batches >= 7
    assert table.schema.metadata[b"railyard.model_id"].decode() == model.model_id
    frame = pd.read_parquet(charges_path)
    np.testing.assert_allclose(table.column("score").to_numpy(), model.score(frame), rtol=1e-6)
    assert table.column("charge_id").to_pylist() == frame["charge_id"].tolist()


def test_one_million_rows_in_memory_bounded_by_the_batch(trained, model_id, million, tmp_path):
    mib = 2**20
    peaks = {}
    for rows in (2_000, 200_000):
        data = charges.write(rows, tmp_path / f"charges-{rows}.parquet", row_group_rows=50_000)
        peaks[rows] = peak_rss_of_predict(str(trained), model_id, data, tmp_path / f"scores-{rows}.parquet", 10_000)
    peaks[1_000_000] = peak_rss_of_predict(str(trained), model_id, million, tmp_path / "scores-1m.parquet", 10_000)
    assert pq.read_metadata(tmp_path / "scores-1m.parquet").num_rows == 1_000_000
    print("peak RSS by input rows:", {rows: f"{peak / mib:.0f} MiB" for rows, peak in peaks.items()})
    assert peaks[1_000_000] - peaks[200_000] < 64 * mib  # five times the rows (same row groups), about the same memory
    assert peaks[1_000_000] - peaks[2_000] < 160 * mib


def test_tampered_artifact_is_refused_before_loading(trained, model_id, charges_path, tmp_path):
    artifact = trained / "model" / model_id
    copy = tmp_path / model_id
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    run = predict("--model", copy, "--data", charges_path, "--output", tmp_path / "out.parquet")
    assert run.returncode == 1
    assert "refusing to load a tampered artifact" in run.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_a_run_directory_needs_the_model_id(trained, model_id, charges_path, tmp_path):
    run = predict("--model", trained, "--data", charges_path, "--output", tmp_path / "out.parquet")
    assert run.returncode == 1
    assert run.stderr.strip() == (f"railyard predict: {trained}: a run directory or an artifact not named by its id cannot be verified; "
                                  "pass the model id (sha256.…) instead, or as expected_id= (--model-id)")
    renamed = tmp_path / "fraud-model.zip"
    shutil.copy(trained / "model" / model_id, renamed)
    run = predict("--model", renamed, "--model-id", model_id, "--data", charges_path, "--output", tmp_path / "out.parquet")
    assert run.returncode == 0, run.stderr
    assert pq.read_table(tmp_path / "out.parquet").schema.metadata[b"railyard.model_id"].decode() == model_id


def test_tampered_artifact_with_a_forged_result_json_is_refused(trained, model_id, charges_path, tmp_path):
    """Whoever can write the artifact can write result.json beside it: only --model-id is trusted."""
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    archive = zipfile.ZipFile(io.BytesIO((trained / "model" / model_id).read_bytes()))
    manifest = json.loads(archive.read(MANIFEST))
    manifest["metadata"]["owner"] = "someone else"
    forged = pack(manifest, {name: archive.read(name) for name in archive.namelist() if name != MANIFEST})
    forged_id = railyard.model.model_id(forged)
    for name in (model_id, forged_id):
        (run_dir / "model" / name).write_bytes(forged)
    result = json.loads((run_dir / "result.json").read_text())
    result["result"]["model_id"] = forged_id
    (run_dir / "result.json").write_text(json.dumps(result))

    run = predict("--model", run_dir, "--data", charges_path, "--output", tmp_path / "out.parquet")
    assert run.returncode == 1 and "cannot be verified; pass the model id" in run.stderr
    run = predict("--model", run_dir, "--model-id", model_id, "--data", charges_path, "--output", tmp_path / "out.parquet")
    assert run.returncode == 1
    assert f"content hashes to {forged_id}, not {model_id}; refusing to load a tampered artifact" in run.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_missing_feature_columns_are_named(trained, model_id, tmp_path):
    pd.DataFrame({"charge_amount": [1.0, 2.0]}).to_parquet(tmp_path / "thin.parquet")
    run = predict("--model", trained / "model" / model_id, "--data", tmp_path / "thin.parquet", "--output", tmp_path / "out.parquet")
    assert run.returncode == 2
    assert "lacks the columns charge_type" in run.stderr


def test_a_string_label_model_scores_the_positive_label(tmp_path, charges_path):
    """With train.positive_label, `score` is P(label == positive_label) and the output records the label's encoding."""
    import pyarrow.compute as pc

    from railyard import trainer

    table = pq.read_table(charges_path)
    table = table.append_column("outcome", pc.if_else(table.column("has_fraud_dispute"), "disputed", "kept"))
    data = tmp_path / "charges.parquet"
    pq.write_table(table, data)
    spec = example_spec("fraud", data)
    spec["data"]["features"][0]["names"].append("outcome")
    spec["train"].update(label="outcome", positive_label="disputed", custom_params={"n_estimators": 20, "max_depth": 4})
    assert trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(tmp_path / "run")]) == 0
    model_id = json.loads((tmp_path / "run" / "result.json").read_text())["result"]["model_id"]

    run = predict("--model", tmp_path / "run", "--model-id", model_id, "--data", data, "--output", tmp_path / "out.parquet", "--keep", "outcome")
    assert run.returncode == 0, run.stderr
    assert "score = P(outcome == 'disputed')" in run.stdout
    scored = pq.read_table(tmp_path / "out.parquet")
    assert scored.schema.metadata[b"railyard.label"] == b"outcome"
    assert json.loads(scored.schema.metadata[b"railyard.label_encoding"]) == {"classes": ["kept", "disputed"], "positive_label": "disputed"}
    frame = scored.to_pandas()
    assert frame.groupby("outcome")["score"].mean()["disputed"] > 2 * frame.groupby("outcome")["score"].mean()["kept"]
