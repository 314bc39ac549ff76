"""What a newcomer's runs look like in real headless Chromium: the job list tells runs apart by their metric and
the parameters that differ, a running job's page follows it to its end without a reload, a three-class job
shows its confusion matrix, and a forecast draws its training history before the holdout, its axis named after
the label."""

import httpx
import pytest

from tests.api.service import Service
from tests.api.test_dashboard import browser  # noqa: F401 - the shared headless Chromium fixture
from tests.api.test_dashboard_charts import figures, series
from tests.conftest import example_spec

pytestmark = pytest.mark.slow


def submit(service: Service, spec: dict) -> str:
    answer = httpx.post(f"{service.url}/train", json={"spec": spec, "binary": "dev"})
    assert answer.status_code == 202, answer.text
    return answer.json()["job_id"]


def test_runs_told_apart_followed_live_and_drawn_for_their_kind(tmp_path, charges_path, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from workflows.data import volumes

    service = Service(tmp_path / "svc").start()
    try:
        long_run = example_spec("fraud", charges_path)
        long_run["train"]["custom_params"].update(n_estimators=1500, max_depth=8)
        running = submit(service, long_run)
        browser.get(f"{service.url}/ui/job/{running}")  # opened once, never reloaded by the test
        states = set()
        WebDriverWait(browser, 240, poll_frequency=0.5).until(
            lambda driver: states.add(driver.find_element(By.CSS_SELECTOR, "h2 .state").text) or "COMPLETE" in states)
        assert "RUNNING" in states or "QUEUED" in states  # it showed the job before its end, then the end
        assert "learning-curve" in figures(browser)

        quick = example_spec("fraud", charges_path)
        quick["train"]["custom_params"].update(n_estimators=30, max_depth=3)
        three_class = example_spec("logreg", charges_path)
        three_class["data"]["features"][0]["names"] = ["charge_amount", "card_brand", "countries_used_24h", "charge_type"]
        three_class["data"].pop("date_column")
        three_class["filters"] = [{"feature_name": "charge_type", "predicate": "NotIn", "feature_value": {"string_vals": ["phone"]}}]
        three_class["train"].update(classifier_features=["charge_amount", "card_brand", "countries_used_24h"], label="charge_type")
        series_path = volumes.write(730, tmp_path / "volumes.parquet")
        forecast = example_spec("prophet", series_path)
        jobs = {name: submit(service, spec) for name, spec in (("quick", quick), ("three_class", three_class), ("forecast", forecast))}
        for job_id in jobs.values():
            assert service.wait_for(job_id, ("complete", "failed"), timeout=300)["job_state"] == "complete"

        browser.get(service.url + "/")
        headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#jobs thead th")]
        assert "Holdout metric" in headers and {"n_estimators", "max_depth"} <= set(headers)
        rows = {row.get_attribute("data-job-id"): row for row in browser.find_elements(By.CSS_SELECTOR, "tr.job")}
        assert rows[running].find_element(By.CSS_SELECTOR, "td.metric").text.startswith("roc_auc 0.")
        assert rows[jobs["three_class"]].find_element(By.CSS_SELECTOR, "td.metric").text.startswith("accuracy 0.")
        params = {job_id: [td.text for td in rows[job_id].find_elements(By.CSS_SELECTOR, "td.param")] for job_id in (running, jobs["quick"])}
        shown = dict(zip([h for h in headers if h in ("n_estimators", "max_depth")], zip(*params.values())))
        assert shown["n_estimators"] == ("1500", "30") and shown["max_depth"] == ("8", "3")

        browser.get(f"{service.url}/ui/job/{jobs['three_class']}")
        matrix = browser.find_element(By.ID, "confusion-matrix")
        header = [th.text for th in matrix.find_elements(By.CSS_SELECTOR, "tr:first-child th")][1:]
        assert sorted(header) == ["in_person", "online", "recurring"]
        counts = [[int(td.text.replace(",", "")) for td in tr.find_elements(By.TAG_NAME, "td")]
                  for tr in matrix.find_elements(By.CSS_SELECTOR, "tr")[1:]]
        assert len(counts) == 3 and all(len(row) == 3 for row in counts)
        assert sum(map(sum, counts)) == int(browser.find_element(By.ID, "metrics").text.split("rows")[1].split()[0].replace(",", ""))
        assert [tr.find_element(By.TAG_NAME, "th").text for tr in browser.find_elements(By.CSS_SELECTOR, "#per-class tr")[1:]] == header
        assert browser.find_element(By.ID, "spec").tag_name == "details"

        browser.get(f"{service.url}/ui/job/{jobs['forecast']}")
        drawn = figures(browser)["forecast"]
        assert {"training history", "holdout actual", "forecast"} <= set(series(drawn))
        texts = [t.text for t in drawn.iter("{http://www.w3.org/2000/svg}text")]
        assert "volume" in texts  # the y axis carries the label's name
    finally:
        service.stop()
