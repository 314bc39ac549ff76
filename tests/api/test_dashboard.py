"""The dashboard in real headless Chromium: the job list shows a finished and a failed job like the
talk's table, and the state filter narrows it."""

import shutil

import httpx
import pytest

from tests.api.conftest import ALICE, BOB, CI, tokens_yaml
from tests.api.service import Service
from tests.conftest import example_spec

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium is not installed (make test installs Debian's chromium and chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_dashboard_lists_jobs_and_filters_by_state(tmp_path, charges_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    service = Service(tmp_path / "svc").start()
    try:
        good = example_spec("fraud", charges_path)
        good["train"]["custom_params"]["n_estimators"] = 20
        bad = example_spec("fraud", charges_path, min_training_examples=10**8)
        bad["metadata"]["model_name"] = "fraud model with too little data"
        complete_id = httpx.post(f"{service.url}/train", json={"spec": good, "binary": "dev"}).json()["job_id"]
        failed_id = httpx.post(f"{service.url}/train", json={"spec": bad, "binary": "dev"}).json()["job_id"]
        assert service.wait_for(complete_id, ("complete", "failed"))["job_state"] == "complete"
        assert service.wait_for(failed_id, ("complete", "failed"))["job_state"] == "failed"

        browser.get(service.url + "/")
        rows = {row.get_attribute("data-job-id"): row for row in browser.find_elements(By.CSS_SELECTOR, "tr.job")}
        assert set(rows) == {complete_id, failed_id}
        assert "COMPLETE" in rows[complete_id].text and "NOT SHIPPED" in rows[complete_id].text
        assert "seconds" in rows[complete_id].text
        assert "FAILED" in rows[failed_id].text
        assert "DataError: min_training_examples: There should be at least 100000000 examples" in rows[failed_id].text
        color = rows[failed_id].find_element(By.CSS_SELECTOR, ".state").value_of_css_property("background-color")
        assert color == "rgba(255, 235, 233, 1)"
        browser.save_screenshot(str(tmp_path / "jobs.png"))

        Select(browser.find_element(By.ID, "state-filter")).select_by_value("failed")
        browser.find_element(By.ID, "apply-filters").click()
        WebDriverWait(browser, 30).until(lambda driver: "state=failed" in driver.current_url)
        filtered = [row.get_attribute("data-job-id") for row in browser.find_elements(By.CSS_SELECTOR, "tr.job")]
        assert filtered == [failed_id]

        browser.get(f"{service.url}/ui/job/{complete_id}")
        assert "roc_auc" in browser.find_element(By.ID, "metrics").text
        steps = browser.find_element(By.ID, "steps").text
        for step in ("load", "filter", "split", "train", "evaluate", "serialize"):
            assert step in steps
        browser.find_element(By.ID, "log-link").click()
        assert "[railyard] complete" in browser.find_element(By.TAG_NAME, "body").text

        browser.get(f"{service.url}/ui/job/{failed_id}")  # a job the trainer failed has a page too
        assert "DataError" in browser.find_element(By.CSS_SELECTOR, ".reason").text
    finally:
        service.stop()


def test_browser_signs_in_sees_only_its_teams_jobs_and_signs_out(tmp_path, charges_path, browser, small_pex):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(tokens_yaml(charges_path.parent))
    service = Service(tmp_path / "svc", args=("--auth-tokens", str(tokens), "--no-dispatch")).start()
    try:
        httpx.post(f"{service.url}/binaries", content=small_pex.read_bytes(), headers=CI).raise_for_status()
        ids = {}
        for who, owner in ((ALICE, "fraud-team"), (BOB, "bob")):
            spec = example_spec("fraud", charges_path)
            spec["metadata"]["owner"] = owner
            spec["data"]["features"][0]["path"] = str(charges_path) if who is ALICE else "s3://nothing/x.parquet"
            response = httpx.post(f"{service.url}/train", json={"spec": spec, "binary": "small_train"}, headers=who)
            ids[owner] = response.json().get("job_id") if response.status_code == 202 else None
        assert ids["bob"] is None  # bob has no data prefixes: he cannot submit at all

        browser.get(f"{service.url}/ui/job/{ids['fraud-team']}")
        assert "/signin" in browser.current_url
        browser.find_element(By.ID, "token").send_keys("alice-token-0123456789")
        browser.find_element(By.ID, "signin-button").click()
        WebDriverWait(browser, 30).until(lambda driver: "/signin" not in driver.current_url)
        assert browser.current_url == f"{service.url}/ui/job/{ids['fraud-team']}"
        assert not any("alice-token" in c["value"] for c in browser.get_cookies())
        browser.find_element(By.ID, "cancel-button").click()
        WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda driver: "CANCELLED" in driver.find_element(By.TAG_NAME, "h2").text)  # the page reloads under us
        browser.get(service.url + "/")
        assert [row.get_attribute("data-job-id") for row in browser.find_elements(By.CSS_SELECTOR, "tr.job")] == [ids["fraud-team"]]
        browser.find_element(By.ID, "signout-button").click()
        WebDriverWait(browser, 30).until(lambda driver: "/signin" in driver.current_url)
        browser.get(service.url + "/")
        assert "/signin" in browser.current_url
    finally:
        service.stop()
