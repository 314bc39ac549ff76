"""A model's ship history: every ship and unship of its jobs with who and when, kept after later changes, newest
first, in GET /models/{name}/history and on the model page; a reader sees only the events of jobs it may read."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import ALICE, BOB
from tests.api.test_dashboard_charts import FRAUD_MODEL, stored_job

HISTORY = f"/models/{quote(FRAUD_MODEL)}/history"


def test_every_ship_and_unship_is_kept_with_who_and_when(app_factory, tmp_path, tokens_file):
    client = app_factory(dispatch=False, auth_tokens=tokens_file)
    first = stored_job(client, tmp_path, owner="fraud-team", kind="training", minutes=0, result={"kind": "training"})
    second = stored_job(client, tmp_path, owner="fraud-team", kind="training", minutes=1, result={"kind": "training"})
    for job_id, action in ((first, "ship"), (second, "ship"), (first, "unship")):
        assert client.post(f"/job/{job_id}/{action}", headers=ALICE).status_code == 200
    history = client.get(HISTORY, headers=ALICE).json()
    assert [(e["job_id"], e["action"], e["actor"]) for e in history["events"]] == [
        (first, "unship", "alice"), (second, "ship", "alice"), (first, "ship", "alice")]
    assert history["next_before"] is None and all(e["model_name"] == FRAUD_MODEL for e in history["events"])
    assert client.get(f"/job/{first}/status", headers=ALICE).json()["shipped"] is False  # the job says only its latest

    page = client.get(f"{HISTORY}?limit=2", headers=ALICE).json()
    older = client.get(f"{HISTORY}?limit=2&before={page['next_before']}", headers=ALICE).json()
    assert [e["action"] for e in page["events"] + older["events"]] == ["unship", "ship", "ship"] and older["next_before"] is None

    model_page = client.get(f"/ui/model/{quote(FRAUD_MODEL)}", headers=ALICE).text
    rows = model_page.split('id="ship-history"')[1].split("</table>")[0]
    assert rows.count('class="ship-event ') == 3 and rows.index(f'data-job-id="{first}"') < rows.index(f'data-job-id="{second}"')

    assert client.get(HISTORY, headers=BOB).json() == {"events": [], "next_before": None}  # another owner's jobs
    assert client.get(f"/models/{'x' * 600}/history", headers=ALICE).json()["events"] == []
    assert client.get(f"{HISTORY}?before=0", headers=ALICE).status_code == 422
