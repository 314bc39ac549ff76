"""A small client of the Railyard API service, used by the `railyard` command.

The service is at $RAILYARD_URL (default http://127.0.0.1:8080); $RAILYARD_TOKEN,
when set, is sent as the bearer token.
"""

from __future__ import annotations

import os
from urllib.parse import quote

import httpx

from railyard.errors import RailyardError, UserError

DEFAULT_URL = "http://127.0.0.1:8080"
VALIDATE_SECONDS = 900  # a plan reads the data's schema and counts its rows; under --dev it may build the binary first


class ServiceError(RailyardError):
    """The service answered with an error; `status` is its HTTP status."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


def _segment(job_id: str) -> str:
    """A job id as one path segment: `/`, `..`, `?` or a control character in it cannot reach another route."""
    return quote(job_id, safe="") if job_id not in (".", "..") else job_id.replace(".", "%2E")


def _field(loc: list) -> list:
    """Where a problem is, as the user wrote it: the path inside the spec, else the body's field."""
    return loc[2:] if loc[:2] == ["body", "spec"] else loc[1:]


def _problem(problem: dict) -> str:
    """One problem of a 422 as `field: message`, or the message alone where it names its own field."""
    field = ".".join(str(p) for p in _field(problem.get("loc", [])))
    return f"{field}: {problem.get('msg', '')}" if field else problem.get("msg", "")


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60):
        self.url = (url or os.environ.get("RAILYARD_URL") or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get("RAILYARD_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UserError(f"cannot reach the Railyard service at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            if isinstance(detail, list):
                detail = "; ".join(_problem(d) for d in detail)
            raise ServiceError(f"{response.status_code}: {detail}", response.status_code)
        return response

    def submit(self, spec: dict, binary: str, workflow_modules: list[str] = (), idempotency_key: str | None = None) -> str:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {"spec": spec, "binary": binary, "workflow_modules": list(workflow_modules)}
        return self._request("POST", "/train", json=body, headers=headers).json()["job_id"]

    def explain(self, *, data: str, model_id: str | None = None, training_job_id: str | None = None, rows: int | None = None,
                key_columns: list[str] = (), compute_resource: str | None = None, idempotency_key: str | None = None) -> dict:
        """Queue an explanation of a model (by id, or by the training job that made it); {job_id, model_id, training_job_id}."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {"model_id": model_id, "training_job_id": training_job_id, "data": data, "rows": rows,
                "key_columns": list(key_columns), "compute_resource": compute_resource}
        return self._request("POST", "/explain", json={k: v for k, v in body.items() if v is not None}, headers=headers).json()

    def replay(self, job_id: str, idempotency_key: str | None = None) -> str:
        """Queue the job's binary and spec again; the replay's job id."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._request("POST", f"/job/{_segment(job_id)}/replay", headers=headers).json()["job_id"]

    def publish(self, path) -> dict:
        """Stream a trainer pex to the service; the published binary's record."""
        def chunks():
            with open(path, "rb") as f:
                while block := f.read(1 << 20):
                    yield block

        headers = {"Content-Type": "application/octet-stream"}
        return self._request("POST", "/binaries", content=chunks(), headers=headers, timeout=None).json()

    def validate(self, spec: dict, binary: str, workflow_modules: list[str] = ()) -> dict:
        """The spec checked against its data by the binary, without queueing: row counts (ValidateResponse)."""
        body = {"spec": spec, "binary": binary, "workflow_modules": list(workflow_modules)}
        return self._request("POST", "/validate", json=body, timeout=VALIDATE_SECONDS).json()

    def status(self, job_id: str) -> dict:
        return self._request("GET", f"/job/{_segment(job_id)}/status").json()

    def result(self, job_id: str) -> dict:
        return self._request("GET", f"/job/{_segment(job_id)}/result").json()

    def logs(self, job_id: str, offset: int = 0) -> tuple[str, int]:
        response = self._request("GET", f"/job/{_segment(job_id)}/logs", params={"offset": offset})
        return response.text, int(response.headers.get("X-Log-Offset", offset))

    def jobs(self, **filters) -> dict:
        return self._request("GET", "/jobs", params={k: v for k, v in filters.items() if v is not None}).json()

    def action(self, job_id: str, verb: str, override_reason: str | None = None) -> dict:
        body = {"json": {"override_reason": override_reason}} if override_reason is not None else {}
        return self._request("POST", f"/job/{_segment(job_id)}/{verb}", **body).json()

    def sweep(self, body: dict, dry_run: bool = False) -> dict:
        """Start a sweep (SweepRequest), or with `dry_run` only check it; the sweep, or its plan."""
        return self._request("POST", "/sweeps", json=body, params={"dry_run": "true"} if dry_run else {},
                             timeout=VALIDATE_SECONDS).json()

    def get_sweep(self, sweep_id: str) -> dict:
        return self._request("GET", f"/sweeps/{_segment(sweep_id)}").json()

    def sweeps(self, **filters) -> dict:
        return self._request("GET", "/sweeps", params={k: v for k, v in filters.items() if v is not None}).json()

    def cancel_sweep(self, sweep_id: str) -> dict:
        return self._request("POST", f"/sweeps/{_segment(sweep_id)}/cancel").json()

    def ship_policy(self, model_name: str, policy: dict | None = None, owner: str | None = None) -> dict:
        """The ship policy of the model (`owner`'s, default the caller's); with `policy`, set it first."""
        path = f"/models/{quote(model_name, safe='')}/ship-policy"
        if policy is not None:
            return self._request("PUT", path, json={**policy, "owner": owner}).json()
        return self._request("GET", path, params={"owner": owner} if owner else {}).json()
