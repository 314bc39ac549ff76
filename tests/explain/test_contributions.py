"""Each kind of model gets its method: XGBoost's exact contributions add up to the raw margin, scikit-learn
trees go through shap's TreeExplainer, and a scikit-learn pipeline and the torch MLP get model-agnostic
contributions that add up to their score; every run writes explanations, importance and a complete result."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import xgboost

import railyard
from tests.conftest import REPO
from tests.explain.conftest import explain, result_of

pytestmark = pytest.mark.slow


def check_outputs(output, model_id: str, features: list[str], keys: list[str], rows: int, method: str) -> pd.DataFrame:
    """What every complete explanation holds; returns the explanations."""
    result = result_of(output)
    assert result["status"]["transition"]["job_state"] == "complete"
    assert [t["job_state"] for t in result["status"]["transitions"]] == ["running", "complete"]
    assert result["exception_info"] is None
    block = result["result"]
    assert block["kind"] == "explanation" and block["model_id"] == model_id and block["method"] == method
    assert block["explanations_path"] == str(output / "explanations.parquet")
    assert block["importance_path"] == str(output / "importance.json")
    assert block["rows"] == rows and block["features"] == features

    table = pq.read_table(output / "explanations.parquet")
    assert table.column_names == [*keys, *features, "bias"]
    assert table.schema.metadata[b"railyard.model_id"].decode() == model_id
    frame = table.to_pandas()
    assert len(frame) == rows
    assert np.isfinite(frame[[*features, "bias"]].to_numpy()).all()

    importance = json.loads((output / "importance.json").read_text())
    assert importance["model_id"] == model_id and importance["rows"] == rows and importance["method"] == method
    ranked = [entry["mean_abs_contribution"] for entry in importance["importance"]]
    assert sorted(entry["feature"] for entry in importance["importance"]) == sorted(features)
    assert ranked == sorted(ranked, reverse=True)
    expected = frame[features].abs().mean()
    for entry in importance["importance"]:
        assert entry["mean_abs_contribution"] == pytest.approx(expected[entry["feature"]], rel=1e-9)
    return frame


def test_xgboost_contributions_add_up_to_the_raw_margin(fraud_model, charges_path, tmp_path):
    output = tmp_path / "explained"
    run = explain("--model", fraud_model.artifact, "--data", charges_path, "--output", output, "--batch-rows", 3_000)
    assert run.returncode == 0, run.stderr
    features = ["charge_type", "charge_amount"]
    frame = check_outputs(output, fraud_model.model_id, features, [], 20_000, "xgboost_pred_contribs")
    assert "explained 20,000 rows in 7 batches" in run.stdout

    model = railyard.load_model(str(fraud_model.artifact))
    booster = model.estimator[-1].get_booster()
    data = pd.read_parquet(charges_path)
    margin = booster.predict(xgboost.DMatrix(model.prepare(data), enable_categorical=True), output_margin=True)
    np.testing.assert_allclose(frame[features].sum(axis=1) + frame["bias"], margin, rtol=0, atol=1e-4)
    assert result_of(output)["result"]["max_additivity_error"] < 1e-4
    assert frame["charge_type"].abs().mean() > 0 and frame["charge_amount"].abs().mean() > 0


def test_xgboost_models_are_explained_without_shap(fraud_model, charges_path, tmp_path):
    """The fraud trainer does not carry shap: its method must not import it."""
    request = f"ExplainRequest(model={str(fraud_model.artifact)!r}, data={str(charges_path)!r}, rows=10, output={str(tmp_path)!r})"
    code = f"import sys; from railyard.explain import *; o = run_explanation({request}); print(o.exit_code, 'shap' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert run.stdout.split() == ["0", "False"], run.stderr


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_pipeline_and_mlp_get_contributions_that_add_up_to_the_score(name, request, charges_path, tmp_path):
    trained = request.getfixturevalue(f"{name}_model")
    output = tmp_path / "explained"
    run = explain("--model", trained.artifact, "--data", charges_path, "--output", output, "--rows", 12, "--key", "charge_id")
    assert run.returncode == 0, run.stderr
    model = railyard.load_model(str(trained.artifact))
    frame = check_outputs(output, trained.model_id, model.features, ["charge_id"], 12, "shap_permutation")
    parameters = result_of(output)["result"]["parameters"]
    assert parameters["background_rows"] == 100 and parameters["max_evals"] == 10 * (2 * len(model.features) + 1)

    first = pd.read_parquet(charges_path).head(12)
    assert frame["charge_id"].tolist() == first["charge_id"].tolist()
    scores = np.asarray(model.score(first), dtype=np.float64)
    np.testing.assert_allclose(frame[model.features].sum(axis=1) + frame["bias"], scores, rtol=0, atol=1e-5)
    assert frame["bias"].nunique() == 1  # one background: one expected score


def test_a_forest_in_a_pipeline_goes_through_shaps_tree_explainer(forest_model, charges_path, tmp_path):
    output = tmp_path / "explained"
    run = explain("--model", forest_model.artifact, "--data", charges_path, "--output", output, "--rows", 500)
    assert run.returncode == 0, run.stderr
    features = ["charge_amount", "countries_used_24h"]
    frame = check_outputs(output, forest_model.model_id, features, [], 500, "shap_tree")
    model = railyard.load_model(str(forest_model.artifact))
    probability = model.score(pd.read_parquet(charges_path).head(500))  # a forest's raw output is P(class 1)
    np.testing.assert_allclose(frame[features].sum(axis=1) + frame["bias"], probability, rtol=0, atol=1e-6)


def test_fasttext_gets_one_contribution_per_text_column(fasttext_model, descriptions_path, tmp_path):
    output = tmp_path / "explained"
    run = explain("--model", fasttext_model.artifact, "--data", descriptions_path, "--output", output, "--rows", 10,
                  "--key", "is_disputed")
    assert run.returncode == 0, run.stderr
    frame = check_outputs(output, fasttext_model.model_id, ["merchant_name", "description"], ["is_disputed"], 10, "shap_permutation")
    importance = json.loads((output / "importance.json").read_text())["importance"]
    assert importance[0]["feature"] == "description"  # the dispute words are in the description
    disputed = frame["is_disputed"].astype(bool)
    assert disputed.any() and not disputed.all()
    assert frame.loc[disputed, "description"].min() > frame.loc[~disputed, "description"].max()
