"""The experiment pages in headless Chromium, their Vega-Lite charts drawn under the pages' Content-Security-Policy
(no eval, no inline style): a real sweep's page (best-so-far, parallel coordinates with a line per trial, learning
curves, a table sorted by any column, "Ship the best"), and the compare page with 200 jobs."""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import pytest
from sqlalchemy.orm import sessionmaker

from railyard.api.store import service as job_service
from railyard.api.store.db import make_engine
from railyard.api.store.models import Job
from tests.api.service import Service
from tests.api.test_dashboard import browser  # noqa: F401 - the shared headless Chromium fixture
from tests.api.test_sweeps import sweep_body

pytestmark = pytest.mark.slow


def drawn(browser, timeout: float = 30) -> float:
    """Wait until every chart of the page is drawn; the seconds from the page's request to its last chart drawn."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = browser.execute_script("return Array.from(document.querySelectorAll('.vega-chart')).map(e => e.dataset.drawn || '')")
        if states and all(states):
            assert set(states) == {"true"}, browser.execute_script("return document.querySelector('.vega-chart[data-drawn=failed]').textContent")
            return float(browser.execute_script("return document.body.dataset.chartsDrawnMs")) / 1000
        time.sleep(0.05)
    raise AssertionError(f"charts not drawn: {states}")


def policy_violations(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]
            or "Refused" in entry["message"]]


def hover(browser, element) -> None:
    """Move the pointer to the middle of an SVG mark, as a person hovering it does."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    x, y = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]", element)
    actions = ActionBuilder(browser)
    for step in (1, 0):  # a pointer arrives over the mark, as a mouse does, not in one jump
        actions.pointer_action.move_to_location(int(x) + step, int(y))
    actions.perform()
    time.sleep(0.3)


def submit_and_wait(browser, selector: str) -> None:
    """Click a form's button and wait for the page it leads to."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    button = browser.find_element(By.CSS_SELECTOR, selector)
    button.click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(button))


def column(browser, table: str, index: int) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.find_elements(By.TAG_NAME, "td")[index].text for row in browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]


def test_the_sweep_page_draws_best_so_far_and_parallel_coordinates_sorts_and_ships_the_best(tmp_path, charges_path, browser):
    from selenium.webdriver.common.by import By

    service = Service(tmp_path / "svc").start()
    try:
        space = {"train.custom_params.max_depth": {"int": [1, 6]}, "train.custom_params.learning_rate": {"float": [0.05, 0.5], "log": True}}
        body = sweep_body(charges_path, trials=4, parallel=2, space=space, sampler="random", pruner="none", seed=5)
        sweep_id = httpx.post(f"{service.url}/sweeps", json=body).json()["sweep_id"]
        deadline = time.monotonic() + 300
        while (sweep := httpx.get(f"{service.url}/sweeps/{sweep_id}").json())["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert sweep["state"] == "complete", sweep

        browser.get(f"{service.url}/ui/sweep/{sweep_id}")
        drawn(browser)
        assert policy_violations(browser) == []
        best = browser.find_element(By.ID, "chart-best-so-far")
        assert len(best.find_elements(By.CSS_SELECTOR, "g.mark-symbol.role-mark path")) == 4  # a point per trial
        assert len(best.find_elements(By.CSS_SELECTOR, "g.mark-line.role-mark path")) == 1  # the best-so-far step line
        parallel = browser.find_element(By.ID, "chart-parallel-coordinates")
        assert len(parallel.find_elements(By.CSS_SELECTOR, "g.mark-line.role-mark path")) == 4  # a line per trial
        axes = parallel.text
        assert "max_depth" in axes and "learning_rate" in axes and "roc_auc" in axes
        assert browser.find_element(By.ID, "chart-learning-curves").find_elements(By.CSS_SELECTOR, "g.mark-line.role-mark path")

        hover(browser, best.find_elements(By.CSS_SELECTOR, "g.mark-symbol.role-mark path")[0])
        tooltip = browser.find_element(By.ID, "vg-tooltip-element")
        assert "roc_auc" in tooltip.get_attribute("textContent") and "best so far" in tooltip.get_attribute("textContent")  # hover values

        values = [t["value"] for t in sweep["trial_jobs"]]
        header = browser.find_element(By.XPATH, "//table[@id='trials']//th[text()='roc_auc']")
        header.click()
        assert [float(v) for v in column(browser, "trials", 2)] == pytest.approx(sorted(values), abs=1e-3)
        header.click()
        assert [float(v) for v in column(browser, "trials", 2)] == pytest.approx(sorted(values, reverse=True), abs=1e-3)
        depth = browser.find_element(By.XPATH, "//table[@id='trials']//th[text()='max_depth']")
        depth.click()
        assert [int(v) for v in column(browser, "trials", 3)] == sorted(t["values"]["train.custom_params.max_depth"] for t in sweep["trial_jobs"])

        submit_and_wait(browser, "#ship-best button")
        assert httpx.get(f"{service.url}/job/{sweep['best']['job_id']}/status").json()["shipped"] is True
        policy = {"metric": "roc_auc", "direction": "maximize", "min_gain": 0.5}
        model = sweep["model_name"]
        assert httpx.put(f"{service.url}/models/{model}/ship-policy", json=policy | {"owner": sweep["owner"]}).status_code == 200
        worse = min(sweep["trial_jobs"], key=lambda t: t["value"])
        rollback = httpx.post(f"{service.url}/job/{worse['job_id']}/ship", json={"override_reason": "the laptop's one user"})
        assert rollback.status_code == 200  # the champion now: the best must beat it by 0.5, which no model does
        browser.get(f"{service.url}/ui/sweep/{sweep_id}")
        submit_and_wait(browser, "#ship-best button")
        verdict = browser.find_element(By.ID, "ship-verdict").text
        assert "does not beat the champion's" in verdict and worse["job_id"] in verdict  # unless by min_gain 0.5: never
    finally:
        service.stop()


def fabricated_jobs(db: str, outputs, count: int, start: int = 0) -> list[str]:
    """`count` complete training jobs of one model written straight to the service's database, each with a result
    (holdout metrics and a learning curve of 200 rounds) and charts.json (a ROC curve of 200 points)."""
    sessions = sessionmaker(make_engine(db), expire_on_commit=False)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ids = []
    for index in range(start, start + count):
        job_id = f"job-{index:04d}"
        output = outputs / job_id
        output.mkdir(parents=True)
        skill = 0.6 + 0.3 * (index - start) / count
        curve = {"metric": "logloss", "unit": "iteration", "total": 200,
                 "points": [{"iteration": i, "training": 0.69 - skill * i / 400, "holdout": 0.69 - skill * i / 450} for i in range(1, 201)]}
        roc = {"fpr": [i / 199 for i in range(200)], "tpr": [min(1.0, (i / 199) ** (1 - skill)) for i in range(200)]}
        (output / "result.json").write_text(json.dumps({"status": {"job_id": job_id}, "result": {"learning_curve": curve}}))
        (output / "charts.json").write_text(json.dumps({"roc": roc}))
        with sessions() as session:
            job = Job(id=job_id, created_at=at + dt.timedelta(minutes=index), state="queued", owner="ml", project="p", trainer="t",
                      model_name="fraud", workflow="StripeFraudModel", compute_resource="CPU", binary="fraud_train", workflow_modules=[],
                      spec={"train": {"custom_params": {"max_depth": index % 7, "eta": 0.1}}}, spec_hash="h", output=str(output),
                      metrics={"kind": "binary_classification", "roc_auc": skill, "accuracy": 0.9})
            job_service.create_job(session, job=job, actor="ml")
            job = job_service.get_job(session, job_id=job_id)
            for state in ("running", "complete"):
                job_service.transition(session, job=job, state=state)
            session.commit()
        ids.append(job_id)
    return ids


def test_the_compare_page_draws_200_jobs(tmp_path, browser):
    from selenium.webdriver.common.by import By

    service = Service(tmp_path / "svc").start()
    try:
        ids = fabricated_jobs(service.db, tmp_path / "outputs", 200)
        browser.get(f"{service.url}/ui/compare?" + "&".join(f"job={job_id}" for job_id in ids))
        seconds = drawn(browser)
        timing = browser.execute_script("const t = performance.getEntriesByType('navigation')[0]; return [t.responseStart, t.responseEnd, t.domContentLoadedEventEnd, t.transferSize]")
        print(f"compare page, 200 jobs: every chart drawn {seconds:.2f} s after the page was asked for; {timing}")
        assert policy_violations(browser) == []
        assert len(browser.find_elements(By.CSS_SELECTOR, "tr.compared-job")) == 200
        for chart in ("learning-curves", "roc"):
            figure = browser.find_element(By.ID, f"chart-{chart}")
            assert figure.find_elements(By.TAG_NAME, "svg") or figure.find_elements(By.TAG_NAME, "canvas")
        header = browser.find_element(By.XPATH, "//table[@id='compared']//th[text()='roc_auc']")
        header.click()
        header.click()
        assert column(browser, "compared", 0)[:2] == ["job-0199", "job-0198"]  # the best first
        headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#compared th")]
        assert "train.custom_params.max_depth" in headers and "train.custom_params.eta" not in headers  # only what differs
    finally:
        service.stop()
