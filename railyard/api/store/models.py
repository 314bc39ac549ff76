"""Tables: jobs of both kinds, their append-only state transitions, sweeps, idempotency keys, published binaries,
browser sessions, ships with their verdicts and the ship policies that judge them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from railyard.launch.job import JobKind


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """A moment in UTC, timezone-aware when read back on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.astimezone(dt.timezone.utc) if value is not None and value.tzinfo else value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str | None] = mapped_column(String(256))
    owner: Mapped[str] = mapped_column(String(256))
    project: Mapped[str] = mapped_column(String(256), default="", index=True)
    trainer: Mapped[str] = mapped_column(String(256), default="")
    model_name: Mapped[str] = mapped_column(String(512))
    workflow: Mapped[str] = mapped_column(String(256), index=True)
    compute_resource: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64))
    binary: Mapped[str] = mapped_column(String(1024))
    workflow_modules: Mapped[list] = mapped_column(JSON, default=list)
    binary_sha256: Mapped[str | None] = mapped_column(String(64))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    data_fingerprint: Mapped[list | None] = mapped_column(JSON)
    # The submitter's data prefixes, which every process opening the job's data enforces; None: no restriction.
    data_prefixes: Mapped[list | None] = mapped_column(JSON)
    output: Mapped[str] = mapped_column(String(1024))
    model_id: Mapped[str | None] = mapped_column(String(128), index=True)
    exception_info: Mapped[dict | None] = mapped_column(JSON)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    shipped: Mapped[bool | None] = mapped_column(Boolean)
    shipped_by: Mapped[str | None] = mapped_column(String(256))
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # An explanation job explains the model `model_id` of the training job `explains_job_id`;
    # `explanation` holds the model's artifact location and what to explain (data, rows, key_columns).
    kind: Mapped[str] = mapped_column(String(16), default=JobKind.training.value, server_default=JobKind.training.value)
    explains_job_id: Mapped[str | None] = mapped_column(String(64))
    explanation: Mapped[dict | None] = mapped_column(JSON)
    # The attempts before the current one that the infrastructure ended and the dispatcher started again
    # (railyard.api.retries): [{started_at, ended_at, reason, message, exit_code, resumed_from}, ...]
    attempts: Mapped[list | None] = mapped_column(JSON)
    # A replay runs the binary and spec of the training job `replays_job_id` again (railyard.api.replays).
    replays_job_id: Mapped[str | None] = mapped_column(String(64))
    # What a complete training run measured (its steps' highest peak, its load step's rows): railyard.api.sizing.
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    rows_loaded: Mapped[int | None] = mapped_column(BigInteger)
    # A complete training job's holdout metrics as its result gave them (railyard.report.run_table.recorded_metrics).
    metrics: Mapped[dict | None] = mapped_column(JSON)
    # A sweep's trial: its sweep, and its number there (the Optuna trial's); (sweep_id, trial_number) is unique.
    sweep_id: Mapped[str | None] = mapped_column(String(64))
    trial_number: Mapped[int | None] = mapped_column(Integer)

    transitions: Mapped[list["Transition"]] = relationship(order_by="Transition.id", lazy="selectin")

    # (state, created_at) serves every lookup by state; (owner, state) every lookup by owner, and counts an owner's
    # queued jobs from the index alone on every submit (the queued-jobs cap).
    # (model_name, created_at) and (owner, created_at) serve a list of one model's or one owner's jobs, newest first.
    __table_args__ = (Index("ix_jobs_state_created", "state", "created_at"), Index("ix_jobs_owner_state", "owner", "state"),
                      Index("ix_jobs_sweep_trial", "sweep_id", "trial_number", unique=True),
                      Index("ix_jobs_model_created", "model_name", "created_at"), Index("ix_jobs_owner_created", "owner", "created_at"))


class Transition(Base):
    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str | None] = mapped_column(String(256))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShipEvent(Base):
    """One ship, unship or refused ship of a job's model, kept for good: who, when, which job of which model, and
    the ship gate's verdict and any override's reason."""

    __tablename__ = "ship_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(512))
    owner: Mapped[str] = mapped_column(String(256))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    model_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))  # railyard.api.ship_gate.ShipAction
    actor: Mapped[str] = mapped_column(String(256))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    verdict: Mapped[str | None] = mapped_column(Text)  # the ship gate's, where the model has a ship policy
    override_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_ship_events_model_id", "model_name", "id"),)


class ShipPolicy(Base):
    """How an owner's model judges a challenger against its shipped champion (railyard.api.ship_gate)."""

    __tablename__ = "ship_policies"

    owner: Mapped[str] = mapped_column(String(256), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(512), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))  # "maximize" or "minimize"
    min_gain: Mapped[float] = mapped_column(Float)
    same_holdout: Mapped[bool] = mapped_column(Boolean)
    owner_may_override: Mapped[bool] = mapped_column(Boolean)
    set_by: Mapped[str] = mapped_column(String(256))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JobMetric(Base):
    """One holdout metric of a complete training job, beside the job's columns that lists filter by: what a list
    sorted by a metric reads, from an index, at any number of jobs (railyard.api.store.service.list_jobs)."""

    __tablename__ = "job_metrics"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    owner: Mapped[str] = mapped_column(String(256))
    model_name: Mapped[str] = mapped_column(String(512))
    sweep_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_job_metrics_value", "name", "value", "job_id"),
                      Index("ix_job_metrics_owner_value", "name", "owner", "value", "job_id"),
                      Index("ix_job_metrics_model_value", "name", "model_name", "value", "job_id"),
                      Index("ix_job_metrics_sweep_value", "name", "sweep_id", "value", "job_id"))


class ModelName(Base):
    """Every model name a job was ever submitted with: a search by substring scans these, not the jobs."""

    __tablename__ = "model_names"

    model_name: Mapped[str] = mapped_column(String(512), primary_key=True)


class Sweep(Base):
    """A base spec, a search space, an objective, a trial budget, a parallelism and a pruner: its trials are
    ordinary jobs (railyard.api.sweeps), its Optuna study lives beside these tables (railyard.sweep.study)."""

    __tablename__ = "sweeps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # railyard.api.sweeps.SweepState
    message: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(256))
    owner: Mapped[str] = mapped_column(String(256), index=True)
    model_name: Mapped[str] = mapped_column(String(512))
    spec: Mapped[dict] = mapped_column(JSON)  # the base spec, before a trial's values
    space: Mapped[dict] = mapped_column(JSON)
    binary: Mapped[str] = mapped_column(String(1024))
    binary_sha256: Mapped[str | None] = mapped_column(String(64))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    workflow_modules: Mapped[list] = mapped_column(JSON, default=list)
    data_prefixes: Mapped[list | None] = mapped_column(JSON)
    metric: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    trials: Mapped[int] = mapped_column(Integer)
    parallel: Mapped[int] = mapped_column(Integer)
    sampler: Mapped[str] = mapped_column(String(16))
    pruner: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer)
    best_job_id: Mapped[str | None] = mapped_column(String(64))
    best_value: Mapped[float | None] = mapped_column(Float)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    principal: Mapped[str] = mapped_column(String(256), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class PublishedBinary(Base):
    __tablename__ = "binaries"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    target: Mapped[str] = mapped_column(String(512))
    git_commit: Mapped[str] = mapped_column(String(64))
    git_dirty: Mapped[bool | None] = mapped_column(Boolean)
    requirements: Mapped[list] = mapped_column(JSON, default=list)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    publisher: Mapped[str] = mapped_column(String(256))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class BrowserSession(Base):
    """A signed-in browser: the cookie holds a random id whose hash is the key; the token is never stored."""

    __tablename__ = "browser_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(80))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
