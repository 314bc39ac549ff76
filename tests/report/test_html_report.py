"""report.html: self-contained, escaped, written by the trainer before result.json says complete, and never the
reason a run fails."""

import json
from html.parser import HTMLParser

import pytest

from railyard import trainer
from railyard.report import chart_data, html_report
from railyard.report.html_report import render_report
from tests.conftest import example_spec, read_result, write_spec
from tests.report.test_charts import binary_charts


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def fetches_nothing(page: str) -> bool:
    """No element loads anything from anywhere: no script, link, image, frame, or url() in the CSS."""
    tags = tags_of(page)
    loading = [t for t, attrs in tags if t in ("script", "link", "img", "iframe", "object", "embed", "image", "use")]
    sources = [a for _, attrs in tags for name, a in attrs.items() if name in ("src", "href", "xlink:href")]
    return not loading and not sources and "url(" not in page and "@import" not in page


def test_the_report_escapes_every_value_and_fetches_nothing():
    hostile = "<script>alert('x')</script>"
    spec = json.loads(json.dumps(example_spec("fraud", f"/data/{hostile}.parquet")))
    spec["metadata"]["model_name"] = hostile
    spec["train"]["classifier_features"] = [hostile, "charge_amount"]
    result = {"model_id": hostile, "metrics": {"kind": "binary_classification", "roc_auc": 0.75, hostile: hostile},
              "training_rows": 1000, "holdout_rows": 200}
    page = render_report(job_id="job-1", spec=spec, result=result, charts=binary_charts(),
                         importance=[{"feature": hostile, "mean_abs": 1.0}])
    assert "<script>" not in page and page.count("&lt;script&gt;") >= 6
    assert fetches_nothing(page)
    figures = [attrs["id"] for tag, attrs in tags_of(page) if tag == "figure"]
    assert figures == ["chart-roc", "chart-precision-recall", "chart-calibration", "chart-score-histogram",
                       "chart-feature-importance", "chart-step-time", "chart-step-memory"]


def test_a_report_without_charts_still_has_the_result():
    page = render_report(job_id="job-2", spec={}, result={"metrics": {"kind": "regression", "rmse": 1.5}}, charts=None)
    assert "job-2" in page and "rmse" in page and "1.5" in page and "<svg" not in page


def test_the_report_says_how_many_workers_trained_the_model(charges_path):
    spec = example_spec("fraud", charges_path, workers=4)
    assert "StripeFraudModel on CPU, 4 workers" in render_report(job_id="job-3", spec=spec, result={}, charts=None)
    spec["workers"] = 1
    assert "StripeFraudModel on CPU</td>" in render_report(job_id="job-3", spec=spec, result={}, charts=None)


def fraud_run(tmp_path, charges_path) -> tuple[int, dict]:
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 20
    code = trainer.main(["--spec", str(write_spec(tmp_path, spec)), "--output", str(tmp_path / "run"), "--job-id", "job-report"])
    return code, read_result(tmp_path / "run")


@pytest.mark.slow
def test_the_trainer_writes_charts_and_report_and_lists_them(tmp_path, charges_path):
    code, body = fraud_run(tmp_path, charges_path)
    assert code == 0 and body["status"]["transition"]["job_state"] == "complete"
    result = body["result"]
    assert result["charts"] == str(tmp_path / "run" / "charts.json") and result["report"] == str(tmp_path / "run" / "report.html")
    charts = json.loads((tmp_path / "run" / "charts.json").read_text())
    assert [s["name"] for s in charts["steps"]] == ["load", "filter", "split", "train", "evaluate", "serialize"]
    assert abs(charts["roc"]["auc"] - result["metrics"]["roc_auc"]) < 1e-9
    assert (tmp_path / "run" / "charts.json").stat().st_size < 64 * 1024
    page = (tmp_path / "run" / "report.html").read_text()
    assert "job-report" in page and result["model_id"] in page and fetches_nothing(page)
    assert page.count("<svg") >= 6


@pytest.mark.slow
def test_charts_or_a_report_that_fail_leave_the_result_complete(tmp_path, charges_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("drawing broke")

    monkeypatch.setattr(chart_data, "binary_charts", broken)
    monkeypatch.setattr(html_report, "render_report", broken)
    code, body = fraud_run(tmp_path, charges_path)
    assert code == 0 and body["status"]["transition"]["job_state"] == "complete"
    assert body["result"]["report"] is None and body["result"]["metrics"]["roc_auc"] > 0.5
    assert not (tmp_path / "run" / "report.html").exists()
    charts = json.loads((tmp_path / "run" / "charts.json").read_text())
    assert "roc" not in charts and len(charts["steps"]) == 6  # the steps are still there to draw
    log = (tmp_path / "run" / "trainer.log").read_text()
    assert "warning: no holdout charts: RuntimeError: drawing broke" in log
    assert "warning: report.html was not written: RuntimeError: drawing broke" in log


@pytest.mark.slow
def test_a_prophet_forecast_gets_its_series_and_interval(tmp_path):
    from workflows.data import volumes

    data = volumes.write(730, tmp_path / "volumes.parquet")
    spec_path = write_spec(tmp_path, example_spec("prophet", data))
    assert trainer.main(["--spec", str(spec_path), "--output", str(tmp_path / "run")]) == 0
    charts = json.loads((tmp_path / "run" / "charts.json").read_text())
    forecast = charts["forecast"]
    assert charts["kind"] == "forecast" and forecast["rows"] == len(forecast["dates"]) == 92
    assert all(lo <= hi for lo, hi in zip(forecast["yhat_lower"], forecast["yhat_upper"]))
    page = (tmp_path / "run" / "report.html").read_text()
    figures = [attrs["id"] for tag, attrs in tags_of(page) if tag == "figure"]
    assert figures[:3] == ["chart-forecast", "chart-predicted-vs-actual", "chart-residuals"]
