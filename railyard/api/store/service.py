"""Reading and writing jobs. Keyword-only functions that take the session; no HTTP here."""

from __future__ import annotations

import base64
import datetime as dt
import json
import weakref
from dataclasses import dataclass, replace

from sqlalchemy import Integer, bindparam, delete, event, func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from railyard.api.store.models import IdempotencyKey, Job, JobMetric, ModelName, ShipEvent, ShipPolicy, Transition, utcnow
from railyard.report.run_table import lower_is_better
from railyard.launch.job import JobKind
from railyard.states import JobState

IDEMPOTENCY_TTL = dt.timedelta(hours=24)
FINISHED = tuple(state.value for state in JobState if state.finished)


_COLUMNS = tuple(attribute.key for attribute in sa_inspect(Job).column_attrs)
_INSERT_JOB, _INSERT_TRANSITION = insert(Job.__table__), insert(Transition.__table__)


_KNOWN_NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> model names recorded in its model_names
MAX_KNOWN_NAMES = 100_000  # of one engine: the newest


def create_job(session: Session, *, job: Job, actor: str | None) -> None:
    """Record a new job and its first transition in the session's transaction: two INSERTs, without the unit of
    work's bookkeeping (every submit makes one), and its model name once. `job` itself stays out of the session;
    `get_job` reads it back."""
    given, connection = job.__dict__, session.connection()  # Core statements: the ORM's execute adds nothing here
    connection.execute(_INSERT_JOB, {key: given[key] for key in _COLUMNS if key in given})
    connection.execute(_INSERT_TRANSITION, {"job_id": job.id, "state": job.state, "actor": actor, "at": job.created_at})
    known = _KNOWN_NAMES.setdefault(connection.engine, {})
    if job.model_name not in known:
        dialect = connection.dialect.name
        insert_name = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(ModelName).on_conflict_do_nothing()
        connection.execute(insert_name, {"model_name": job.model_name})
        session.info.setdefault("new_model_names", []).append((known, job.model_name))  # known once committed


@event.listens_for(Session, "after_commit")
def _names_committed(session: Session) -> None:
    for known, name in session.info.pop("new_model_names", ()):
        known[name] = None
        if len(known) > MAX_KNOWN_NAMES:
            del known[next(iter(known))]


@event.listens_for(Session, "after_rollback")
def _names_rolled_back(session: Session) -> None:
    session.info.pop("new_model_names", None)


def index_metrics(session: Session, *, job: Job) -> None:
    """Record the job's metrics (job.metrics, as recorded) in job_metrics, each a row a sorted list reads."""
    session.execute(delete(JobMetric).where(JobMetric.job_id == job.id))
    rows = [{"job_id": job.id, "name": name, "value": float(value), "owner": job.owner, "model_name": job.model_name,
             "sweep_id": job.sweep_id} for name, value in (job.metrics or {}).items() if name != "kind" and isinstance(value, (int, float))]
    if rows:
        session.execute(insert(JobMetric), rows)


def get_job(session: Session, *, job_id: str) -> Job | None:
    """The job with its transitions, read in one query."""
    return session.get(Job, job_id, options=[joinedload(Job.transitions)])


def lock_job(session: Session, *, job_id: str, wait: bool = True) -> Job | None:
    """The job, its row locked until the transaction ends (PostgreSQL); None when another replica holds it and `wait` is off.

    SQLite has no row locks and serves one replica only (see db.hold_single_replica).
    """
    query = select(Job).where(Job.id == job_id).with_for_update(skip_locked=not wait)
    return session.scalars(query.execution_options(populate_existing=True)).first()


DISPATCH_LOCK = 0x7261696C  # "rail": the PostgreSQL advisory lock of the dispatch phase


def take_dispatch_turn(session: Session) -> bool:
    """Whether this replica may dispatch now: one replica at a time, until this session's transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": DISPATCH_LOCK}).scalar())


def transition(session: Session, *, job: Job, state: str, reason: str | None = None, message: str | None = None,
               actor: str | None = None) -> bool:
    """Record a state change (append-only); False when the job is already in that state or the state may not follow."""
    if job.state == state and job.reason == reason:
        return False
    if job.state != state and not JobState(job.state).may_become(JobState(state)):
        return False
    now = utcnow()
    job.state, job.reason, job.message = state, reason, message
    if state == JobState.running.value and job.started_at is None:
        job.started_at = now
    if state in FINISHED:
        job.finished_at = now
    job.transitions.append(Transition(state=state, reason=reason, actor=actor, at=now))
    return True


def training_of_model(session: Session, *, model_id: str, owners: tuple[str, ...] | None) -> Job | None:
    """The newest complete training job that made the model `model_id`, among the jobs of `owners` (None: all)."""
    query = select(Job).where(Job.model_id == model_id, Job.kind == JobKind.training.value, Job.state == JobState.complete.value)
    if owners is not None:
        query = query.where(Job.owner.in_(owners))
    return session.scalars(query.order_by(Job.finished_at.desc(), Job.id.desc()).limit(1)).first()


def measured_runs(session: Session, *, model_name: str, owner: str, limit: int) -> list[Job]:
    """The newest complete training runs of `owner`'s model `model_name` that measured their peak memory."""
    query = select(Job).where(Job.model_name == model_name, Job.owner == owner, Job.kind == JobKind.training.value,
                              Job.state == JobState.complete.value, Job.peak_memory_bytes.is_not(None), Job.rows_loaded > 0)
    return list(session.scalars(query.order_by(Job.finished_at.desc(), Job.id.desc()).limit(limit)))


def explanations_of(session: Session, *, model_id: str, owners: tuple[str, ...] | None, limit: int) -> list[Job]:
    """The explanation jobs of the model `model_id`, among the jobs of `owners` (None: all), newest first.

    Every explanation job records the model it explains, so these include every job with `explains_job_id`
    naming a training job that made the model (and use the index on `model_id`).
    """
    query = select(Job).where(Job.model_id == model_id, Job.kind == JobKind.explanation.value)
    if owners is not None:
        query = query.where(Job.owner.in_(owners))
    return list(session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


@dataclass
class JobFilter:
    owner: str | None = None
    project: str | None = None
    model_name: str | None = None
    workflow: str | None = None
    state: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    owners: tuple[str, ...] | None = None  # the owners the reader may see; None: all
    kind: str | None = None
    shipped: bool | None = None
    sweep_id: str | None = None
    model_name_contains: str | None = None
    metric: str | None = None  # sorted by this metric, best first; None: newest first


MAX_MATCHED_NAMES = 1000  # the model names a search by substring lists jobs of


def encode_cursor(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """The (created_at, id) a cursor names; ValueError for anything this service did not issue."""
    padded = cursor + "=" * (-len(cursor) % 4)
    created, job_id = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(created, str) or not isinstance(job_id, str):
        raise ValueError("not a cursor")
    return utc(dt.datetime.fromisoformat(created)), job_id


def utc(moment: dt.datetime) -> dt.datetime:
    """The moment in UTC (naive means UTC); ValueError when it has none (year 1 or 9999 shifted off the calendar)."""
    try:
        return moment.astimezone(dt.timezone.utc) if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} is outside the calendar in UTC") from None


def encode_metric_cursor(value: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(["metric", value, job_id]).encode()).decode().rstrip("=")


def decode_metric_cursor(cursor: str) -> tuple[float, str]:
    padded = cursor + "=" * (-len(cursor) % 4)
    tag, value, job_id = json.loads(base64.urlsafe_b64decode(padded))
    if tag != "metric" or not isinstance(value, (int, float)) or not isinstance(job_id, str):
        raise ValueError("not a cursor")
    return float(value), job_id


def list_jobs(session: Session, *, where: JobFilter, limit: int, cursor: str | None = None) -> tuple[list[Job], str | None]:
    """Newest first, or by a metric best first (only jobs that recorded it); the cursor names the last job of the
    previous page. Each job is a row of the LISTED columns, read as a Job's attributes are.

    Each page is read from an index in its order: jobs (owner, created_at), (model_name, created_at), … and
    job_metrics (name, owner, value), (name, model_name, value), …. A reader of a few owners (a person and its
    teams), or a substring that names few models, is read as that many such pages, one per owner or model,
    merged here: an index serves `owner = X` in order, never `owner IN (X, Y)`.
    """
    if where.model_name_contains is not None and where.model_name is None:
        pattern = ModelName.model_name.contains(where.model_name_contains, autoescape=True)
        names = list(session.scalars(select(ModelName.model_name).where(pattern).limit(FEW_MODELS + 1)))
        if len(names) <= FEW_MODELS:
            return _merged(session, [replace(where, model_name=name, model_name_contains=None) for name in names], limit, cursor)
    if where.owners is not None and where.owner is None and len(where.owners) <= FEW_OWNERS:
        return _merged(session, [replace(where, owner=owner, owners=None) for owner in where.owners], limit, cursor)
    return _merged(session, [where], limit, cursor)


FEW_OWNERS, FEW_MODELS = 8, 32  # a reader's owners, or the models a substring names, up to these: one index range each


def _merged(session: Session, filters: list[JobFilter], limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
    rows = sorted((row for where in filters for row in _page(session, where, limit + 1, cursor)), key=lambda r: r[0], reverse=True)
    following = None
    if len(rows) > limit:
        key, job = rows[limit - 1]
        following = encode_metric_cursor(key[0] * key[2], job.id) if filters[0].metric is not None else encode_cursor(job)
    return [job for _, job in rows[:limit]], following


# What a list shows of a job, read as plain rows (no ORM identity map, no transitions): routes/jobs.summary_of's
# fields and what the dashboard reads of each listed job (its output, for a model page's result files).
LISTED = tuple(getattr(Job, name) for name in (
    "id", "created_at", "finished_at", "started_at", "state", "reason", "message", "owner", "project", "model_name", "workflow",
    "compute_resource", "model_id", "shipped", "shipped_by", "shipped_at", "kind", "metrics", "spec", "sweep_id", "trial_number",
    "output"))


def _page(session: Session, where: JobFilter, limit: int, cursor: str | None) -> list[tuple[tuple, Job]]:
    """At most `limit` jobs of one filter in its order, each with a key that sorts them, descending, in that order."""
    if where.metric is not None:
        return _page_by_metric(session, where, limit, cursor)
    query = _filtered(select(*LISTED), where)
    if cursor:
        created, job_id = decode_cursor(cursor)
        query = query.where((Job.created_at < created) | ((Job.created_at == created) & (Job.id < job_id)))
    jobs = session.execute(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit))
    return [((job.created_at, job.id), job) for job in jobs]


def _filtered(query, where: JobFilter, columns=None):
    """The query with every filter of `where`; `columns` (job_metrics') take the filters they have."""
    for column in ("owner", "project", "model_name", "workflow", "state", "kind", "sweep_id"):
        value = getattr(where, column)
        if value is not None:
            query = query.where(getattr(columns if columns is not None and hasattr(columns, column) else Job, column) == value)
    if where.shipped is not None:  # a job never shipped has NULL, one unshipped False
        query = query.where(Job.shipped.is_(True) if where.shipped else Job.shipped.is_not(True))
    if where.owners is not None:
        query = query.where((columns if columns is not None else Job).owner.in_(where.owners))
    if where.created_after:
        query = query.where(Job.created_at >= where.created_after)
    if where.created_before:
        query = query.where(Job.created_at < where.created_before)
    if where.model_name_contains:
        names = select(ModelName.model_name).where(ModelName.model_name.contains(where.model_name_contains, autoescape=True))
        matched = names.order_by(ModelName.model_name).limit(MAX_MATCHED_NAMES).scalar_subquery()
        query = query.where((columns if columns is not None else Job).model_name.in_(matched))
    return query


def _page_by_metric(session: Session, where: JobFilter, limit: int, cursor: str | None) -> list[tuple[tuple, Job]]:
    sign = -1.0 if lower_is_better(where.metric) else 1.0  # the key sorts descending: a loss's values are negated
    query = _filtered(select(*LISTED, JobMetric.value.label("sorted_by")).join(JobMetric, JobMetric.job_id == Job.id)
                      .where(JobMetric.name == where.metric), where, JobMetric)
    if cursor:
        value, job_id = decode_metric_cursor(cursor)
        beyond = JobMetric.value > value if sign < 0 else JobMetric.value < value
        query = query.where(beyond | ((JobMetric.value == value) & (JobMetric.job_id < job_id)))
    order = JobMetric.value.asc() if sign < 0 else JobMetric.value.desc()
    rows = session.execute(query.order_by(order, JobMetric.job_id.desc()).limit(limit)).all()
    return [((sign * row.sorted_by, row.id, sign), row) for row in rows]


def record_ship(session: Session, *, job: Job, action: str, actor: str, verdict: str | None = None,
                override_reason: str | None = None) -> None:
    """Ship or unship the job's model, or refuse to ship it (railyard.api.ship_gate.ShipAction), and keep the
    event in its model's history."""
    now = utcnow()
    if action != "refused":
        job.shipped, job.shipped_by, job.shipped_at = action == "ship", actor, now
    session.add(ShipEvent(model_name=job.model_name, owner=job.owner, job_id=job.id, model_id=job.model_id, action=action,
                          actor=actor, at=now, verdict=verdict, override_reason=override_reason))


SHIP_LOCKS = 0x53484950  # "SHIP": the PostgreSQL advisory locks of one model's ships, one per (owner, model name)


def hold_model_ships(session: Session, *, owner: str, model_name: str) -> None:
    """On PostgreSQL, hold the ships of `owner`'s model until this session's transaction ends, so that two
    challengers are judged one after the other against the champion; SQLite writers are one at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:locks, hashtext(:key))"),
                        {"locks": SHIP_LOCKS, "key": f"{owner}\n{model_name}"})


def ship_policy(session: Session, *, owner: str, model_name: str) -> ShipPolicy | None:
    return session.get(ShipPolicy, (owner, model_name))


def set_ship_policy(session: Session, *, policy: ShipPolicy) -> ShipPolicy:
    """Create or replace the policy of its (owner, model name)."""
    return session.merge(policy)


def champion(session: Session, *, owner: str, model_name: str) -> Job | None:
    """The job of the owner's model shipped last, unshipped since or not: an unship does not lower the bar a
    challenger must pass (shipping the job before it again, a rollback, is judged too, or overridden)."""
    last = select(ShipEvent.job_id).where(ShipEvent.model_name == model_name, ShipEvent.owner == owner, ShipEvent.action == "ship")
    job_id = session.scalar(last.order_by(ShipEvent.id.desc()).limit(1))
    return session.get(Job, job_id) if job_id else None


def ship_history(session: Session, *, model_name: str, owners: tuple[str, ...] | None, limit: int,
                 before: int | None = None) -> list[ShipEvent]:
    """The model's ships and unships of the jobs the reader may see, newest first, those before event `before`."""
    query = select(ShipEvent).where(ShipEvent.model_name == model_name)
    if owners is not None:
        query = query.where(ShipEvent.owner.in_(owners))
    if before is not None:
        query = query.where(ShipEvent.id < before)
    return list(session.scalars(query.order_by(ShipEvent.id.desc()).limit(limit)))


def complete_without_metrics(session: Session, *, limit: int) -> list[Job]:
    """Complete training jobs whose metrics were never recorded on them (they ended before the service recorded
    metrics), oldest first."""
    return list(session.scalars(select(Job).where(Job.state == JobState.complete.value, Job.kind == JobKind.training.value,
                                                  Job.metrics.is_(None)).order_by(Job.created_at).limit(limit)))


def jobs_in_states(session: Session, *, states: tuple[str, ...]) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.state.in_(states)).order_by(Job.created_at)))


_COUNT_QUEUED = select(func.count()).select_from(
    select(Job.owner).where(Job.owner == bindparam("owner"), Job.state == JobState.queued.value)
    .limit(bindparam("up_to", type_=Integer)).subquery())


def count_queued(session: Session, *, owner: str, up_to: int) -> int:
    """How many queued jobs `owner` has, counted no further than `up_to` (all a limit needs). SQLite and
    PostgreSQL count it from the (owner, state) index alone: neither the rows nor an owner's finished history."""
    return session.connection().scalar(_COUNT_QUEUED, {"owner": owner, "up_to": up_to})


QUEUE_LOCKS = 0x51554555  # "QUEU": the PostgreSQL advisory locks of one owner's queue, one per owner


def hold_owner_queue(session: Session, *, owner: str) -> None:
    """On PostgreSQL, hold `owner`'s queue until this session's transaction ends: one submit per owner counts
    and adds at a time. SQLite writers are already one at a time (db.write_lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:locks, hashtext(:owner))"), {"locks": QUEUE_LOCKS, "owner": owner})


def count_by_state(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())


def remembered_response(session: Session, *, key: str, principal: str) -> IdempotencyKey | None:
    record = session.get(IdempotencyKey, (key, principal))
    if record is not None and record.created_at < utcnow() - IDEMPOTENCY_TTL:
        session.delete(record)
        return None
    return record


def remember_response(session: Session, *, key: str, principal: str, request_hash: str, status_code: int, response: dict) -> None:
    session.add(IdempotencyKey(key=key, principal=principal, request_hash=request_hash, status_code=status_code, response=response))


def forget_expired_keys(session: Session) -> int:
    expired = list(session.scalars(select(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_TTL)))
    for record in expired:
        session.delete(record)
    return len(expired)
