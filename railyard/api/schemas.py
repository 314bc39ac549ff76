"""Request and response bodies of the API, as they appear in /openapi.json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from railyard.api.data_access import BadDataPath, resolve
from railyard.api.ship_gate import MAX_REASON_CHARS, Direction
from railyard.sweep.study import Pruner, Sampler
from railyard.launch.job import JobKind
from railyard.model.artifact import is_model_id
from railyard.spec import ComputeResource, TrainingSpec


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: TrainingSpec = Field(description="The training spec, exactly as the trainer takes it.")
    binary: str = Field(min_length=1, max_length=1024, description="A published binary: NAME (the latest published), NAME@sha256:HEX or sha256:HEX. "
                        "A service started with --dev also takes a Bazel target, a .pex path or 'dev'.")
    workflow_modules: list[str] = Field(default_factory=list, max_length=20,
                                        description="Modules inside the binary that the trainer imports before looking up the workflow.")


class TrainResponse(BaseModel):
    job_id: str


MAX_EXPLAIN_ROWS = 1_000_000
MAX_TRIALS, MAX_PARALLEL = 10_000, 64  # of one sweep
KeyColumn = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")]


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: str | None = Field(default=None, max_length=128,
                                 description="The model to explain, as a training job's result names it (sha256.…).")
    training_job_id: str | None = Field(default=None, min_length=1, max_length=64,
                                        description="Or the complete training job whose model to explain.")
    data: str = Field(min_length=1, max_length=1024, description="The rows to explain: an absolute path or a URI "
                      "(parquet file or directory), under the caller's data prefixes.")
    rows: int | None = Field(default=None, ge=1, le=MAX_EXPLAIN_ROWS, description="Explain at most this many rows.")
    key_columns: list[KeyColumn] = Field(default_factory=list, max_length=20,
                                         description="Input columns copied beside each row's explanation, to join it back.")
    compute_resource: ComputeResource | None = Field(default=None, description="Default: the training job's.")

    @field_validator("model_id")
    @classmethod
    def _model_id(cls, value: str | None) -> str | None:
        if value is not None and not is_model_id(value):
            raise PydanticCustomError("model_id", "{problem}", {"problem": "expected a model id: 'sha256.' and 52 base32 "
                                      f"characters, as a training job's result names it; got {value[:80]!r}"})
        return value

    @field_validator("data")
    @classmethod
    def _data(cls, value: str) -> str:
        try:
            resolve(value)
        except BadDataPath as exc:
            raise PydanticCustomError("data_path", "{problem}", {"problem": str(exc)}) from None
        if value.lower().endswith(".json"):  # the trainer would read a spec's data, which no prefix check has seen
            raise PydanticCustomError("data_path", "{problem}", {"problem": f"{value}: expected parquet rows (a file, "
                                      "a directory or a URI); the service does not explain a training spec's rows"})
        return value

    @field_validator("key_columns")
    @classmethod
    def _distinct_keys(cls, value: list[str]) -> list[str]:
        repeated = next((column for i, column in enumerate(value) if column in value[:i]), None)
        if repeated is not None:
            raise PydanticCustomError("key_columns", "{problem}", {"problem": f"{repeated!r} is named more than once; "
                                      "expected each key column once"})
        return value

    @model_validator(mode="after")
    def _one_model(self) -> "ExplainRequest":
        if (self.model_id is None) == (self.training_job_id is None):
            raise PydanticCustomError("one_model", "give exactly one of model_id and training_job_id")
        return self


class ExplainResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    job_id: str
    model_id: str
    training_job_id: str


class SizingOut(BaseModel):
    estimate_bytes: int = Field(description="the memory this run should need, headroom included")
    resource_class: str | None = Field(description="the smallest class holding it, from the spec's up its larger classes; "
                                       "null when none does")
    summary: str = Field(description='"the last 3 runs of this model peaked at 0.7 GiB on 11,199 rows; this run has … → class CPU"')


class ValidateResponse(BaseModel):
    rows_in: int
    rows_after_filters: int
    training_rows: int
    holdout_rows: int
    compute_resource: str
    sizing: SizingOut | None = Field(default=None, description="From the owner's earlier complete runs of this model "
                                     "(railyard.api.sizing); null before the first")


class TransitionOut(BaseModel):
    created_at: dt.datetime
    job_state: str
    reason: str | None = None
    actor: str | None = None


class Explains(BaseModel):
    """What an explanation job explains."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    training_job_id: str
    data: str
    rows: int | None
    key_columns: list[str]


class Attempt(BaseModel):
    started_at: dt.datetime
    ended_at: dt.datetime
    reason: str
    compute_resource: str | None = Field(default=None, description="the resource class this run had (an OOMKilled run's "
                                         "next one may have a larger class)")
    message: str | None = None
    exit_code: int | None = None
    resumed_from: int | None = Field(default=None, description="the iteration this run's training resumed from, if it did")


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
    workers: int = Field(default=1, description="how many workers train the model together (the spec's `workers`)")
    model_id: str | None = Field(default=None, description="the model a complete training job made, as recorded when it ended")
    shipped: bool | None
    shipped_by: str | None
    shipped_at: dt.datetime | None
    activity: str | None = Field(default=None, description="What a queued job waits on, when the service knows: "
                                 "`building //workflows:X` while a `--dev` service builds the job's Bazel target")
    kind: JobKind = Field(default=JobKind.training, description="training, or explanation (of the model in `explains`)")
    explains: Explains | None = None
    data_fingerprint: list[dict[str, Any]] | None = Field(
        default=None, description="Once a training job has ended: each source's files (path, size, mtime) as its "
        "trainer opened them, from result.json; null before, for an explanation, or when the data was never opened.")
    progress: dict[str, Any] | None = Field(
        default=None, description="While the job runs: its progress.json (step, iteration, total, unit, elapsed_s, "
        "remaining_s, metric, training, holdout, updated_at), or null before training reports any.")
    attempts: list[Attempt] = Field(
        default_factory=list, description="The runs of the job's trainer before the current one that the infrastructure "
        "ended (pre-empted, killed, lost) and the service started again; each later run resumed from the checkpoints.")
    replays_job_id: str | None = Field(default=None, description="A replay: the training job it runs again (POST /job/{id}/replay)")
    sweep_id: str | None = Field(default=None, description="A sweep's trial: its sweep")
    trial_number: int | None = Field(default=None, description="A sweep's trial: its number there")


class Replay(BaseModel):
    replays_job_id: str
    reproduced: bool | None = Field(description="the same model id as the job replayed; null until both are complete")
    summary: str = Field(description='"reproduced: same model id …", or "not reproduced: …" with what differed')
    model_id_before: str | None
    model_id_now: str | None
    differences: list[str] = Field(description="what the two runs recorded differently: binary, spec, each data file, libraries")
    metrics: dict[str, dict[str, float]] = Field(description="each holdout metric that moved: before, now, difference")


class ResultResponse(BaseModel):
    status: StatusResponse
    result: dict[str, Any] | None
    exception_info: dict[str, Any] | None
    replay: Replay | None = Field(default=None, description="A replay: how its run compares with the job it replays")


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
    workers: int = Field(default=1, description="how many workers train the model together (the spec's `workers`)")
    model_id: str | None
    shipped: bool | None
    shipped_by: str | None = None
    shipped_at: dt.datetime | None = None
    kind: JobKind = JobKind.training
    metrics: dict[str, float | str] | None = Field(
        default=None, description="A complete training job's holdout metrics and their `kind`, recorded when it ended")
    custom_params: dict[str, Any] = Field(default_factory=dict, description="A training job's `train.custom_params`")
    sweep_id: str | None = Field(default=None, description="A sweep's trial: its sweep")
    trial_number: int | None = Field(default=None, description="A sweep's trial: its number there")


class ShipEventOut(BaseModel):
    id: int
    model_name: str
    owner: str
    job_id: str
    model_id: str | None
    action: str = Field(description="ship, unship, or refused: a ship the model's ship policy refused")
    actor: str = Field(description="who shipped, unshipped or tried to ship it")
    at: dt.datetime
    verdict: str | None = Field(default=None, description="the ship gate's verdict, where the model has a ship policy")
    override_reason: str | None = Field(default=None, description="why it was shipped past the ship gate")


class ShipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    override_reason: str | None = Field(default=None, min_length=1, max_length=MAX_REASON_CHARS,
                                        description="ship even where the ship gate refuses, for this reason (an admin, "
                                                    "or the owner where the policy allows it)")


class ShipPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: str | None = Field(default=None, max_length=256, description="the model's owner (default: the caller)")
    metric: str = Field(min_length=1, max_length=64, description="a holdout metric the jobs record, e.g. roc_auc")
    direction: Direction
    min_gain: float = Field(default=0.0, ge=0.0, allow_inf_nan=False, description="how much better a challenger must be")
    same_holdout: bool = Field(default=True, description="refuse a challenger not judged on the champion's holdout")
    owner_may_override: bool = Field(default=False, description="the model's owners, not only admins, may ship past it")


class ShipPolicyOut(BaseModel):
    owner: str
    model_name: str
    metric: str
    direction: Direction
    min_gain: float
    same_holdout: bool
    owner_may_override: bool
    set_by: str
    set_at: dt.datetime


class ShipHistory(BaseModel):
    events: list[ShipEventOut]
    next_before: int | None = Field(description="pass back as `before` for the older events; null when there are none")


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


class SweepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: TrainingSpec = Field(description="The base spec; each trial sets the space's paths in it.")
    space: dict[str, Any] = Field(description='Spec paths mapped to distributions: {"train.custom_params.max_depth": {"int": [2, 8]}, '
                                              '"train.custom_params.learning_rate": {"float": [0.01, 0.3], "log": true}, ...}')
    binary: str = Field(min_length=1, max_length=1024, description="A published binary, as POST /train takes it")
    workflow_modules: list[str] = Field(default_factory=list, max_length=20)
    metric: str = Field(min_length=1, max_length=64, description="The holdout metric the trials are judged by, e.g. roc_auc")
    direction: Direction
    trials: int = Field(ge=1, le=MAX_TRIALS, description="How many trials to run at most (a grid: at most its size)")
    parallel: int = Field(default=1, ge=1, le=MAX_PARALLEL, description="How many trials run at once")
    pruner: Pruner = Field(default=Pruner.median, description="median, halving (successive halving), hyperband or none")
    sampler: Sampler = Field(default=Sampler.tpe, description="tpe, random or grid")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class SweepPlan(BaseModel):
    """A dry run's answer: the space as understood, and how many trials would run."""
    paths: list[str]
    trials: int
    extremes_checked: int = Field(description="specs checked: each path at each end of its range, or each of its values")


class Trial(BaseModel):
    number: int
    job_id: str
    job_state: str
    message: str | None
    value: float | None = Field(description="the sweep's metric on the holdout, once complete")
    values: dict[str, Any] = Field(description="the trial's value at each path of the space")


class SweepOut(BaseModel):
    sweep_id: str
    state: str
    message: str | None
    owner: str
    submitted_by: str
    model_name: str
    binary: str
    metric: str
    direction: Direction
    trials: int
    parallel: int
    sampler: str
    pruner: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    counts: dict[str, int] = Field(description="the trials asked so far, by job state")
    best: Trial | None = Field(default=None, description="the complete trial with the best value so far")
    trial_jobs: list[Trial] = Field(default_factory=list, description="every trial asked so far, by number")


class SweepsPage(BaseModel):
    sweeps: list[SweepOut]
    next_cursor: str | None
