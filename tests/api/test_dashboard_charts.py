"""The dashboard's pictures: charts on the job page, a model's retrains, two jobs compared, a running job's
progress, report.html in a browser, explanation jobs and the feature importance they give a training job's
page; and the model, compare and importance lookups scoped like the job page.

The browser tests save a full-page screenshot of each page to test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from railyard import trainer
from railyard.api.routes import dashboard
from railyard.api.store import service as job_service
from railyard.api.store.models import Job
from tests.api.conftest import ALICE, BOB, CI, publish
from tests.api.test_explain import explain, wait_for
from tests.api.service import Service
from tests.api.test_dashboard import browser  # noqa: F401 - the shared headless Chromium fixture
from tests.conftest import REPO, example_spec, read_result, write_spec

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
SVG = "{http://www.w3.org/2000/svg}"
FRAUD_MODEL = "fraud prediction model"


def fraud_spec(charges_path, n_estimators: int, owner: str | None = None) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = n_estimators
    if owner:
        spec["metadata"]["owner"] = owner
    return spec


def test_progress_of_a_running_job_reads_as_a_bar_and_a_line():
    view = dashboard.progress_view({"iteration": 120, "total": 500, "unit": "iteration", "elapsed_s": 30.0, "remaining_s": 95.0,
                                    "metric": "rmse", "holdout": 0.4512, "training": None})
    assert view == {"value": 120, "max": 500,
                    "text": "iteration 120 of 500, 30 seconds elapsed, about 2 minutes left, holdout rmse 0.4512"}
    assert dashboard.progress_view({"iteration": 3, "total": None, "unit": "epoch"}) == {"value": None, "max": None, "text": "epoch 3"}
    assert dashboard.progress_view({"iteration": None, "total": 10}) is None and dashboard.progress_view(None) is None


def test_output_files_are_read_only_up_to_the_limit(tmp_path, monkeypatch):
    (tmp_path / "charts.json").write_text(json.dumps({"roc": {"fpr": [0.0] * 100}}))
    assert dashboard.output_json(str(tmp_path), "charts.json")["roc"]["fpr"][0] == 0.0
    monkeypatch.setattr(dashboard, "MAX_OUTPUT_BYTES", 64)
    assert dashboard.output_json(str(tmp_path), "charts.json") is None
    (tmp_path / "broken.json").write_text("{not json")
    assert dashboard.output_json(str(tmp_path), "broken.json") is None
    assert dashboard.output_json(str(tmp_path), "missing.json") is None


def test_model_and_compare_pages_are_404_for_another_owner(app_factory, charges_path, tokens_file, small_pex):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    binary = publish(client, small_pex, CI)["name"]
    ids = [client.post("/train", json={"spec": fraud_spec(charges_path, n, "fraud-team"), "binary": binary}, headers=ALICE).json()["job_id"]
           for n in (10, 20)]
    model_page = f"/ui/model/{quote(FRAUD_MODEL)}"
    compare_page = f"/ui/compare?a={ids[0]}&b={ids[1]}"
    mine = client.get(model_page, headers=ALICE)
    assert mine.status_code == 200 and all(job_id in mine.text for job_id in ids)
    assert client.get(compare_page, headers=ALICE).status_code == 200
    for path, detail in ((model_page, f"no model {FRAUD_MODEL}"), (compare_page, f"no job {ids[0]}"),
                         (f"/ui/compare?a={ids[0]}&b=00000000-0000-0000-0000-000000000000", f"no job {ids[0]}")):
        response = client.get(path, headers=BOB)
        assert response.status_code == 404 and response.json()["detail"] == detail  # exactly as a job that does not exist
    assert client.get("/ui/model/no%20such%20model", headers=ALICE).json()["detail"] == "no model no such model"
    assert client.get(f"/ui/compare?a={ids[0]}&b=nothing", headers=ALICE).status_code == 404
    assert client.get(model_page, follow_redirects=False).headers["location"] == f"/signin?next=/ui/model/{quote(FRAUD_MODEL)}"


def test_a_running_job_shows_its_progress(app_factory, charges_path):
    client = app_factory(dispatch=False, dev=True)
    job_id = client.post("/train", json={"spec": fraud_spec(charges_path, 500), "binary": "dev"}).json()["job_id"]
    assert 'id="progress"' not in client.get(f"/ui/job/{job_id}").text
    with client.app.state.sessions() as session:
        job = session.get(Job, job_id)
        assert job_service.transition(session, job=job, state="running")
        session.commit()
        output = Path(job.output)
    assert 'id="progress"' not in client.get(f"/ui/job/{job_id}").text  # running, and nothing reported yet
    output.mkdir(parents=True, exist_ok=True)
    (output / "progress.json").write_text(json.dumps({"step": "train", "iteration": 120, "total": 500, "unit": "iteration",
                                                      "elapsed_s": 12.0, "remaining_s": 48.0}))
    page = client.get(f"/ui/job/{job_id}").text
    assert '<progress value="120" max="500"' in page and "iteration 120 of 500, 12 seconds elapsed, about 48 seconds left" in page


MODEL_ID = "sha256." + "M" * 52
AT = dt.datetime(2019, 3, 21, tzinfo=dt.timezone.utc)


def stored_job(client, tmp_path, *, owner: str, kind: str, minutes: int, result: dict, importance: list | None = None,
               explains: str | None = None, state: str = "complete") -> str:
    """A finished job of the model MODEL_ID written straight to the database, with its output files."""
    job_id = f"{kind}-{owner}-{minutes}"
    output = tmp_path / "outputs" / job_id
    output.mkdir(parents=True)
    (output / "result.json").write_text(json.dumps({"status": {"job_id": job_id}, "result": result, "exception_info": None}))
    if importance is not None:
        (output / "importance.json").write_text(json.dumps({"model_id": MODEL_ID, "method": "xgboost_pred_contribs",
                                                            "rows": 300, "importance": importance}))
    with client.app.state.sessions() as session:
        job = Job(id=job_id, created_at=AT + dt.timedelta(minutes=minutes), state="queued", owner=owner, project="p",
                  trainer="t", model_name=FRAUD_MODEL, workflow="StripeFraudModel", compute_resource="CPU", spec={},
                  spec_hash="h", binary="fraud_train", workflow_modules=[], output=str(output), model_id=MODEL_ID, kind=kind,
                  explains_job_id=explains,
                  explanation={"data": "/data/rows.parquet", "rows": 300, "key_columns": []} if explains else None)
        job_service.create_job(session, job=job, actor=owner)
        job = job_service.get_job(session, job_id=job_id)
        for reached in ("running", state):
            job_service.transition(session, job=job, state=reached)
        session.commit()
    return job_id


def bar_features(root: ET.Element) -> list[str]:
    """The features a feature-importance chart draws a bar for, top first."""
    return [rect.find(f"{SVG}title").text.split(":")[0] for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def importance_bars(html: str) -> list[str]:
    found = re.search(r'<figure id="chart-feature-importance">(<svg.*?</svg>)', html, re.S)
    return bar_features(ET.fromstring(found.group(1))) if found else []


def explanation_result(importance: list) -> dict:
    return {"kind": "explanation", "model_id": MODEL_ID, "rows": 300, "method": "xgboost_pred_contribs",
            "explanations_path": "/out/explanations.parquet", "importance_path": "/out/importance.json", "importance": importance,
            "steps": [{"name": "explain", "wall_seconds": 0.5, "rows_in": 300, "rows_out": 300, "peak_memory_bytes": 2**27}]}


def test_a_training_job_page_uses_only_explanations_its_reader_may_read(app_factory, tmp_path, tokens_file):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    training = stored_job(client, tmp_path, owner="fraud-team", kind="training", minutes=0, result={
        "kind": "training", "model_id": MODEL_ID, "metrics": {"kind": "binary_classification", "roc_auc": 0.8}, "steps": []})
    theirs = [{"feature": "bob_only_feature", "mean_abs_contribution": 9.0}]
    bobs = stored_job(client, tmp_path, owner="bob", kind="explanation", minutes=30, result=explanation_result(theirs),
                      importance=theirs, explains=training)
    page = client.get(f"/ui/job/{training}", headers=ALICE)
    assert page.status_code == 200 and 'id="chart-feature-importance"' not in page.text and bobs not in page.text

    ours = [{"feature": "charge_amount", "mean_abs_contribution": 0.7}, {"feature": "charge_type", "mean_abs_contribution": 0.2}]
    alices = stored_job(client, tmp_path, owner="alice", kind="explanation", minutes=10, result=explanation_result(ours),
                        importance=ours, explains=training)
    page = client.get(f"/ui/job/{training}", headers=ALICE).text
    assert importance_bars(page) == ["charge_amount", "charge_type"]  # hers, though bob's is newer
    assert f'From explanation job <a href="/ui/job/{alices}">' in page and "300 rows" in page
    assert re.findall(r'<tr class="explanation" data-job-id="([^"]+)"', page) == [alices] and bobs not in page
    assert client.get(f"/ui/job/{training}", headers=BOB).status_code == 404
    assert importance_bars(client.get(f"/ui/job/{bobs}", headers=BOB).text) == ["bob_only_feature"]
    assert client.get(f"/ui/job/{bobs}", headers=ALICE).status_code == 404

    retrains = client.get(f"/ui/model/{quote(FRAUD_MODEL)}", headers=ALICE).text
    assert re.findall(r'<tr class="retrain" data-job-id="([^"]+)"', retrains) == [training]  # no explanation among them
    listed = client.get("/?kind=explanation", headers=ALICE).text
    assert re.findall(r'<tr class="job" data-job-id="([^"]+)"', listed) == [alices]
    assert '<option value="explanation" selected>' in listed


def test_an_explanation_job_page_shows_what_it_explains_and_no_ship_button(app_factory, tmp_path, tokens_file):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    training = stored_job(client, tmp_path, owner="fraud-team", kind="training", minutes=0, result={"kind": "training"})
    ours = [{"feature": "charge_type", "mean_abs": 0.1}, {"feature": "charge_amount", "mean_abs": 0.4}]
    job_id = stored_job(client, tmp_path, owner="fraud-team", kind="explanation", minutes=5, result=explanation_result(ours),
                        importance=ours, explains=training)
    page = client.get(f"/ui/job/{job_id}", headers=ALICE)
    assert page.status_code == 200, page.text
    html = page.text
    assert '<td id="job-kind">explanation</td>' in html
    assert f'model <code>{MODEL_ID}</code> of training job <a href="/ui/job/{training}" id="training-link">' in html
    assert '<td id="explained-rows">300</td>' in html and ">xgboost_pred_contribs</code>" in html
    assert "/out/explanations.parquet" in html and f'href="/job/{job_id}/result"' in html
    assert importance_bars(html) == ["charge_amount", "charge_type"] and 'id="importance-source"' not in html  # its own
    assert 'id="ship-button"' not in html and 'id="unship-button"' not in html and 'id="metrics"' not in html
    assert client.post(f"/job/{job_id}/ship", headers=ALICE).status_code == 409

    failed = stored_job(client, tmp_path, owner="fraud-team", kind="explanation", minutes=9, state="failed", importance=ours,
                        result={"kind": "explanation", "model_id": MODEL_ID, "steps": []}, explains=training)
    html = client.get(f"/ui/job/{failed}", headers=ALICE).text
    assert 'id="training-link"' in html and importance_bars(html) == [] and 'id="explained-rows"' not in html
    training_page = client.get(f"/ui/job/{training}", headers=ALICE).text
    assert re.findall(r'<tr class="explanation" data-job-id="([^"]+)"', training_page) == [failed, job_id]
    assert f'From explanation job <a href="/ui/job/{job_id}">' in training_page  # the newest complete one


HOSTILE_TEXT = '<script>alert(1)</script>"]]>'


def test_files_a_hostile_trainer_wrote_leave_every_page_and_route_answering(app_factory, tmp_path):
    """Output files too deep to parse, of the wrong types, with numbers past a float or markup in names are read as
    absent, field by field or chart by chart: every page and route answers, and the good charts are still drawn."""
    client = app_factory(dispatch=False, dev=True)
    result = {"kind": "training", "model_id": MODEL_ID, "metrics": {"kind": "binary_classification", "roc_auc": 10**400},
              "steps": [{"name": HOSTILE_TEXT, "wall_seconds": "slow", "peak_memory_bytes": [1]}, 7],
              "learning_curve": {"points": 5}}
    training = stored_job(client, tmp_path, owner="alice", kind="training", minutes=0, result=result)
    (tmp_path / "outputs" / training / "charts.json").write_text(json.dumps({
        "roc": {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.8, 1.0]},
        "calibration": {"counts": "many", "mean_predicted": [HOSTILE_TEXT], "observed_rate": {}},
        "score_histograms": {"negative": [10**400], "positive": [1, 2], "edges": 3}}))
    importance = [{"feature": HOSTILE_TEXT, "mean_abs_contribution": 10**400}, {"feature": "charge_amount", "mean_abs_contribution": 0.5}]
    explanation = stored_job(client, tmp_path, owner="alice", kind="explanation", minutes=1, importance=importance,
                             result=explanation_result(importance) | {"rows": 10**400}, explains=training)
    as_list = stored_job(client, tmp_path, owner="alice", kind="training", minutes=2, result={})
    (tmp_path / "outputs" / as_list / "result.json").write_text("[1]")
    too_deep = stored_job(client, tmp_path, owner="alice", kind="training", minutes=3, result={})
    for name in ("result.json", "charts.json"):
        (tmp_path / "outputs" / too_deep / name).write_text("[" * 50_000)
    running = stored_job(client, tmp_path, owner="alice", kind="training", minutes=4, result={}, state="running")
    (tmp_path / "outputs" / running / "progress.json").write_text(
        '{"iteration": 1' + "0" * 400 + ', "total": 10, "points": [{"iteration": "x"}, 7, {"training": 1e308}]}')
    many_classes = stored_job(client, tmp_path, owner="alice", kind="training", minutes=5,
                              result={"kind": "training", "metrics": {"kind": "multiclass_classification", "accuracy": 0.5}})
    (tmp_path / "outputs" / many_classes / "charts.json").write_text(json.dumps({
        "confusion": {"classes": [HOSTILE_TEXT * 5] * 2_000, "counts": [[1, "x", None, -5, 2.5, 1e308, 1e308] * 10] * 2_000},
        "per_class": {"class": HOSTILE_TEXT}}))

    jobs = (training, explanation, as_list, too_deep, running, many_classes)
    pages = ["/"] + [f"/ui/job/{j}" for j in jobs] + [f"/job/{j}/{route}" for j in jobs for route in ("status", "result")]
    pages += [f"/ui/compare?a={training}&b={j}" for j in jobs] + [f"/ui/model/{quote(FRAUD_MODEL)}"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        assert "<script" not in response.text or not path.startswith("/ui/"), path
    page = client.get(f"/ui/job/{training}").text
    assert 'id="chart-roc"' in page and 'id="chart-score-histogram"' not in page
    assert "charge_amount" in importance_bars(page)
    assert client.get(f"/job/{as_list}/result").json()["result"] is None
    assert client.get(f"/job/{running}/status").json()["progress"]["iteration"] is None
    page = client.get(f"/ui/job/{many_classes}").text
    assert 'id="confusion-matrix"' in page, page[-3000:]
    confusion = page.split('id="confusion-matrix"')[1].split("</table>")[0]
    assert confusion.count("<tr>") <= 32 and "<script" not in confusion  # bounded, escaped


def full_page_screenshot(driver, name: str, width: int = 1200) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, 600), 6000))
    path = SCREENSHOTS / name
    assert driver.save_screenshot(str(path))
    return path


def figures(driver) -> dict[str, ET.Element]:
    """Each chart of the page by its key, its SVG parsed (the browser's own serialization of the element)."""
    from selenium.webdriver.common.by import By

    found = {}
    for figure in driver.find_elements(By.CSS_SELECTOR, "figure[id^=chart-]"):
        svg = figure.find_element(By.TAG_NAME, "svg")
        assert svg.size["width"] > 100 and svg.size["height"] > 80  # laid out, not collapsed
        found[figure.get_attribute("id").removeprefix("chart-")] = ET.fromstring(svg.get_attribute("outerHTML"))
    return found


def labelled(root: ET.Element) -> bool:
    return root.get("role") == "img" and bool(root.get("aria-label")) and bool(root.find(f"{SVG}title").text)


def drawn_points(root: ET.Element) -> int:
    """Line vertices and markers drawn in the chart's series: evidence the chart has data, not just axes."""
    count = 0
    for group in root.iter(f"{SVG}g"):
        if group.get("class") in ("series", "band"):
            for element in group:
                count += element.get("d", "").count("L") + (element.tag in (f"{SVG}circle", f"{SVG}rect", f"{SVG}polygon"))
    return count


def series(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-series"): g for g in root.iter(f"{SVG}g") if g.get("class") == "series"}


@pytest.mark.slow
def test_job_model_and_compare_pages_draw_the_charts(tmp_path, charges_path, browser):  # noqa: F811
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    svc = Service(tmp_path / "svc").start()
    try:
        ids = []
        for n_estimators in (20, 60):
            ids.append(httpx.post(f"{svc.url}/train", json={"spec": fraud_spec(charges_path, n_estimators), "binary": "dev"}).json()["job_id"])
            assert svc.wait_for(ids[-1], ("complete", "failed"))["job_state"] == "complete"
        older, newer = ids

        browser.get(f"{svc.url}/ui/job/{newer}")
        charts = figures(browser)
        assert list(charts) == ["roc", "precision-recall", "calibration", "score-histogram", "learning-curve", "step-time", "step-memory"]
        assert all(labelled(svg) for svg in charts.values())
        assert all(drawn_points(svg) >= 6 for svg in charts.values())
        roc = series(charts["roc"])
        assert any(name.startswith("model (AUC 0.") for name in roc) and any("at threshold 0.5" in name for name in roc)
        assert drawn_points(charts["roc"]) > 50
        assert {"training", "holdout"} <= set(series(charts["learning-curve"]))
        full_page_screenshot(browser, "job-page.png")

        browser.set_window_size(1400, 900)
        browser.find_element(By.ID, "ship-button").click()
        WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda driver: driver.find_elements(By.ID, "unship-button"))
        assert "SHIPPED" in browser.find_element(By.CSS_SELECTOR, ".shipped").text
        assert httpx.get(f"{svc.url}/job/{newer}/status").json()["shipped"] is True
        browser.find_element(By.ID, "unship-button").click()
        WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda driver: driver.find_elements(By.ID, "ship-button"))
        assert not browser.find_elements(By.CSS_SELECTOR, ".shipped")
        assert httpx.get(f"{svc.url}/job/{newer}/status").json()["shipped"] is False

        browser.get(f"{svc.url}/ui/job/{older}")
        browser.find_element(By.ID, "ship-button").click()
        WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda driver: driver.find_elements(By.ID, "unship-button"))
        browser.find_element(By.ID, "model-link").click()
        WebDriverWait(browser, 30).until(lambda driver: "/ui/model/" in driver.current_url)
        rows = browser.find_elements(By.CSS_SELECTOR, "tr.retrain")
        assert [row.get_attribute("data-job-id") for row in rows] == [newer, older]  # newest first
        assert "NOT SHIPPED" in rows[0].text and "SHIPPED" in rows[1].text and "NOT SHIPPED" not in rows[1].text
        counted = httpx.get(f"{svc.url}/job/{newer}/result").json()["result"]
        assert f"{counted['training_rows']:,}" in rows[0].text and f"{counted['holdout_rows']:,}" in rows[0].text
        history = figures(browser)["metric-history"]
        assert labelled(history) and "roc_auc" in history.find(f"{SVG}title").text
        marks = series(history)
        assert len(marks["SHIPPED"].findall(f"{SVG}rect")) == 1 and len(marks["NOT SHIPPED"].findall(f"{SVG}circle")) == 1
        full_page_screenshot(browser, "model-page.png")

        browser.set_window_size(1400, 900)
        rows[0].find_element(By.CSS_SELECTOR, "a.compare-link").click()
        WebDriverWait(browser, 30).until(lambda driver: "/ui/compare" in driver.current_url)
        assert f"a={older}" in browser.current_url and f"b={newer}" in browser.current_url
        overlaid = figures(browser)
        assert list(overlaid) == ["roc", "precision-recall", "calibration", "learning-curve"]
        assert all(labelled(svg) and drawn_points(svg) >= 6 for svg in overlaid.values())
        curves = {name[0]: group for name, group in series(overlaid["roc"]).items() if name.startswith(("A (", "B ("))}
        dashes = {key: group.find(f"{SVG}path").get("stroke-dasharray") for key, group in curves.items()}
        assert set(dashes) == {"A", "B"} and dashes["A"] != dashes["B"]
        differing = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#spec-diff tr.differs")]
        assert differing == ["train.custom_params.n_estimators 20 60 differs"]
        metrics = browser.find_element(By.ID, "metrics").text
        assert "roc_auc" in metrics and "accuracy" in metrics
        full_page_screenshot(browser, "compare-page.png")

        browser.get(f"{svc.url}/")
        browser.find_element(By.CSS_SELECTOR, f"tr.job[data-job-id='{newer}'] a.model-link").click()
        WebDriverWait(browser, 30).until(lambda driver: driver.current_url.endswith(f"/ui/model/{quote(FRAUD_MODEL)}"))
    finally:
        svc.stop()


@pytest.mark.slow
def test_report_html_of_a_fraud_run_opens_in_chromium(tmp_path, charges_path, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    output = tmp_path / "run"
    assert trainer.main(["--spec", str(write_spec(tmp_path, fraud_spec(charges_path, 30))), "--output", str(output)]) == 0
    result = read_result(output)["result"]
    browser.get((output / "report.html").as_uri())
    assert browser.title == f"{FRAUD_MODEL} · Railyard report"
    assert result["model_id"] in browser.find_element(By.ID, "job").text
    assert "roc_auc" in browser.find_element(By.ID, "metrics").text
    charts = figures(browser)
    assert {"roc", "precision-recall", "calibration", "score-histogram", "step-time", "step-memory"} <= set(charts)
    assert all(labelled(svg) and drawn_points(svg) >= 6 for svg in charts.values())
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0  # self-contained
    full_page_screenshot(browser, "report.png")


@pytest.mark.slow
def test_an_explained_training_job_and_its_explanation_draw_the_importance(tmp_path, charges_path, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    svc = Service(tmp_path / "svc").start()
    try:
        with httpx.Client(base_url=svc.url, timeout=30) as client:
            training = client.post("/train", json={"spec": fraud_spec(charges_path, 20), "binary": "dev"}).json()["job_id"]
            assert wait_for(client, training)["job_state"] == "complete", client.get(f"/job/{training}/logs").text
            queued = explain(client, training_job_id=training, data=str(charges_path), rows=300)
            assert queued.status_code == 202, queued.text
            job_id, model_id = queued.json()["job_id"], queued.json()["model_id"]
            assert wait_for(client, job_id)["job_state"] == "complete", client.get(f"/job/{job_id}/logs").text
            result = client.get(f"/job/{job_id}/result").json()["result"]
        importance = json.loads(Path(result["importance_path"]).read_text())["importance"]
        features = [row["feature"] for row in importance]

        browser.get(f"{svc.url}/ui/job/{training}")
        charts = figures(browser)
        assert "feature-importance" in charts and labelled(charts["feature-importance"])
        assert bar_features(charts["feature-importance"]) == features and len(features) >= 2
        caption = browser.find_element(By.ID, "importance-source")
        assert "300 rows" in caption.text and result["method"] in caption.text
        bars_font = [t for t in browser.find_elements(By.CSS_SELECTOR, "#chart-feature-importance svg text")
                     if t.get_attribute("font-size") == "12"][0]  # the chart's bar names
        assert [caption.value_of_css_property(p) for p in ("font-family", "font-size")] == \
            [bars_font.value_of_css_property(p) for p in ("font-family", "font-size")]  # the caption reads as part of its card
        assert [row.get_attribute("data-job-id") for row in browser.find_elements(By.CSS_SELECTOR, "tr.explanation")] == [job_id]
        assert browser.find_elements(By.ID, "ship-button")  # a training job's model can be shipped
        full_page_screenshot(browser, "job-page-explained.png")

        browser.set_window_size(1400, 900)
        caption.find_element(By.TAG_NAME, "a").click()
        WebDriverWait(browser, 30).until(lambda driver: driver.current_url.endswith(f"/ui/job/{job_id}"))
        assert browser.find_element(By.ID, "job-kind").text == "explanation"
        assert model_id in browser.find_element(By.ID, "explains").text
        assert browser.find_element(By.ID, "explained-rows").text == "300"
        assert browser.find_element(By.ID, "explanation-method").text == result["method"]
        assert "explanations.parquet" in browser.find_element(By.ID, "outputs").text
        own = figures(browser)
        assert labelled(own["feature-importance"]) and bar_features(own["feature-importance"]) == features
        assert not browser.find_elements(By.ID, "ship-button") and not browser.find_elements(By.ID, "metrics")
        full_page_screenshot(browser, "explanation-page.png")

        browser.set_window_size(1400, 900)
        browser.find_element(By.ID, "training-link").click()
        WebDriverWait(browser, 30).until(lambda driver: driver.current_url.endswith(f"/ui/job/{training}"))
        browser.find_element(By.ID, "model-link").click()
        WebDriverWait(browser, 30).until(lambda driver: "/ui/model/" in driver.current_url)
        assert [row.get_attribute("data-job-id") for row in browser.find_elements(By.CSS_SELECTOR, "tr.retrain")] == [training]
    finally:
        svc.stop()
