"""Request and response bodies of the API, as they appear in /openapi.json."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from railyard.spec import TrainingSpec


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: TrainingSpec = Field(description="The training spec, exactly as the trainer takes it.")
    binary: str = Field(min_length=1, max_length=1024, description="A published binary: NAME (the latest published), NAME@sha256:HEX or sha256:HEX. "
                        "A service started with --dev also takes a Bazel target, a .pex path or 'dev'.")
    workflow_modules: list[str] = Field(default_factory=list, max_length=20,
                                        description="Modules inside the binary that the trainer imports before looking up the workflow.")


class TrainResponse(BaseModel):
    job_id: str


class ValidateResponse(BaseModel):
    rows_in: int
    rows_after_filters: int
    training_rows: int
    holdout_rows: int
    compute_resource: str


class TransitionOut(BaseModel):
    created_at: dt.datetime
    job_state: str
    reason: str | None = None
    actor: str | None = None


class StatusResponse(BaseModel):
    job_id: str
    log_file: str
    transition: TransitionOut
    transitions: list[TransitionOut]
    job_state: str
    reason: str | None
    message: str | None
    git_commit: str | None
    binary_sha256: str | None
    owner: str
    project: str
    model_name: str
    workflow: str
    compute_resource: str
    shipped: bool | None
    shipped_by: str | None
    shipped_at: dt.datetime | None


class ResultResponse(BaseModel):
    status: StatusResponse
    result: dict[str, Any] | None
    exception_info: dict[str, Any] | None


class JobSummary(BaseModel):
    job_id: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    duration_seconds: float | None
    job_state: str
    reason: str | None
    message: str | None
    owner: str
    project: str
    model_name: str
    workflow: str
    compute_resource: str
    model_id: str | None
    shipped: bool | None


class JobsPage(BaseModel):
    jobs: list[JobSummary]
    next_cursor: str | None


class Health(BaseModel):
    status: str
    database: str
    dispatcher: str


class BinaryOut(BaseModel):
    name: str
    sha256: str
    ref: str
    target: str
    git_commit: str
    git_dirty: bool | None
    requirements: list[str]
    size_bytes: int
    publisher: str
    published_at: dt.datetime


class BinariesPage(BaseModel):
    binaries: list[BinaryOut]
