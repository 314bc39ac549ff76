"""Driving sweeps: their trials are ordinary jobs, asked of the sweep's Optuna study and judged by its pruner.

Each dispatcher tick, on the replica whose dispatch turn it is, every running sweep:

1. tells its study how each finished trial ended: complete with the sweep's metric (as recorded on the job), pruned,
   or failed (a failed or cancelled job, or a complete one without the metric);
2. feeds each running trial's learning curve (its progress.json, by round) to the pruner; a trial the pruner
   stops is stopped like a cancel and ends `pruned`, with the round it reached in its message;
3. asks for new trials and queues each as a job of the sweep's owner, with the sweep's binary, data prefixes and
   submitter, while fewer than `parallel` run and fewer than `trials` were asked (and the owner has room under
   max_queued_per_owner); fair share then treats them as any of the owner's jobs;
4. ends when every trial asked has ended: complete with its best trial, or failed when none completed.

A trial runs once. Its job is keyed by (sweep, trial number), unique in the jobs table; a trial that Optuna asked
for but whose job was never committed (the service died in between) gets its job from the values Optuna stored.
"""

from __future__ import annotations

import enum
import logging
import uuid
from typing import Callable

import optuna
from optuna.trial import TrialState
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from railyard.api.queueing import training_job
from railyard.api.store import service
from railyard.api.store.models import Job, Sweep, utcnow
from railyard.errors import RailyardError
from railyard.launch.job import Executor
from railyard.pipeline.progress_file import known_fields, read_progress
from railyard.result import read_result
from railyard.spec import parse_spec
from railyard.states import JobState
from railyard.sweep import space as spaces
from railyard.sweep import study as studies

log = logging.getLogger("railyard.sweeps")
ACTOR = "sweep"


class SweepState(str, enum.Enum):
    running = "running"
    complete = "complete"
    failed = "failed"
    cancelled = "cancelled"


def trial_values(sweep: Sweep, job: Job) -> dict:
    """The values a trial's job was given, read back from its spec at the space's paths."""
    found = {}
    for path in sweep.space:
        node = job.spec
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        found[path] = node
    return found


def told(study: optuna.Study, number: int, value: float | None = None, state: TrialState | None = None) -> None:
    """Tell the study how a trial ended. A grid sampler stops its study when the last point is told, which outside
    optimize() raises after the trial is stored: the sweep ends as its trials do."""
    try:
        study.tell(number, value, state=state)
    except RuntimeError as exc:
        log.debug("study of trial %d: %s", number, exc)


class SweepDriver:
    def __init__(self, sessions: sessionmaker[Session], executor: Executor, database_url: str,
                 stop: Callable[..., bool], max_queued: int):
        self.sessions = sessions
        self.executor = executor
        self.database_url = database_url
        self.stop = stop  # Dispatcher.stop_job: ends a job in a finished state and stops its trainer
        self.max_queued = max_queued

    @property
    def storage(self):
        return studies.storage_for(self.database_url)

    def drive(self) -> None:
        with self.sessions() as session:
            running = list(session.scalars(select(Sweep.id).where(Sweep.state == SweepState.running.value).order_by(Sweep.created_at)))
            session.commit()
        for sweep_id in running:
            try:
                self._drive(sweep_id)
            except Exception:  # one sweep's trouble stops no other sweep nor the dispatcher
                log.exception("sweep %s: driving it failed", sweep_id)

    def _drive(self, sweep_id: str) -> None:
        sweep = self._sweep(sweep_id)
        space = spaces.parse_space(sweep.space)
        study = studies.load(self.storage, sweep.id, sampler=sweep.sampler, pruner=sweep.pruner, space=space, seed=sweep.seed, asked=0)
        running = {trial.number: trial for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        with self.sessions() as session:  # only the trials still running in the study, as rows of what judging reads
            judged = select(Job.trial_number, Job.id, Job.state, Job.metrics, Job.output)
            jobs = {row.trial_number: row for row in session.execute(
                judged.where(Job.sweep_id == sweep_id, Job.trial_number.in_(list(running))))}
            session.commit()
        for number, trial in running.items():
            job = jobs.get(number)
            if job is None and not self._queue_trial(sweep, number, trial.params):
                told(study, number, state=TrialState.FAIL)
            elif job is not None:
                try:
                    self._judge(sweep, study, number, job)
                except (RailyardError, ValueError, TypeError, OverflowError) as exc:  # a trial's files a trainer wrote wrong
                    log.warning("sweep %s: trial %d (job %s) not judged: %s", sweep.id, number, job.id, exc)
                    if JobState(job.state).finished:
                        told(study, number, state=TrialState.FAIL)
        trials = study.get_trials(deepcopy=False)
        budget = min(sweep.trials, spaces.grid_size(space)) if sweep.sampler == studies.Sampler.grid.value else sweep.trials
        active = sum(t.state == TrialState.RUNNING for t in trials)
        asked = len(trials)
        while active < sweep.parallel and asked < budget and self._owner_has_room(sweep.owner):
            study.sampler = studies.sampler_of(sweep.sampler, space, sweep.seed, asked)
            trial = study.ask()
            values = spaces.suggest(trial, space)
            if not self._queue_trial(sweep, trial.number, values):
                told(study, trial.number, state=TrialState.FAIL)
            active, asked = active + 1, asked + 1
        self._record_best(sweep, study)
        if asked >= budget and not any(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False)):
            self._finish(sweep, study)

    def _sweep(self, sweep_id: str) -> Sweep:
        with self.sessions() as session:
            sweep = session.get(Sweep, sweep_id)
            session.expunge(sweep)
            session.commit()
        return sweep

    def _owner_has_room(self, owner: str) -> bool:
        with self.sessions() as session:
            room = service.count_queued(session, owner=owner, up_to=self.max_queued) < self.max_queued
            session.commit()
        return room

    def _queue_trial(self, sweep: Sweep, number: int, values: dict) -> bool:
        """Queue trial `number` of the sweep as a job; False when its spec is not valid (the trial fails)."""
        try:
            spec = parse_spec(spaces.apply(sweep.spec, values))
        except RailyardError as exc:
            log.warning("sweep %s: trial %d has no valid spec: %s", sweep.id, number, exc)
            return False
        job_id = str(uuid.uuid4())
        job = training_job(spec, job_id=job_id, submitted_by=sweep.submitted_by, binary=sweep.binary, binary_sha256=sweep.binary_sha256,
                           git_commit=sweep.git_commit, workflow_modules=sweep.workflow_modules, output=self.executor.output_uri(job_id),
                           data_prefixes=sweep.data_prefixes, sweep_id=sweep.id, trial_number=number)
        with self.sessions() as session:
            if session.get(Sweep, sweep.id, with_for_update=True).state == SweepState.running.value:  # not cancelled meanwhile
                service.create_job(session, job=job, actor=ACTOR)
            session.commit()
        return True

    def _judge(self, sweep: Sweep, study: optuna.Study, number: int, job: Job) -> None:
        """Tell the study how a finished trial ended; prune a running one its pruner gives up on."""
        state = JobState(job.state)
        if state == JobState.complete:
            result = read_result(job.output) or {}
            block = result.get("result") if isinstance(result.get("result"), dict) else {}
            curve = known_fields(block["learning_curve"]) if isinstance(block.get("learning_curve"), dict) else None
            if curve and curve["points"]:  # only finite numbers, as a progress file is read
                studies.report_curve(study, number, curve["points"], studies.curve_sign(curve["metric"], sweep.direction), curve["total"])
            value = (job.metrics or {}).get(sweep.metric)
            if isinstance(value, (int, float)):
                told(study, number, float(value))
            else:
                log.warning("sweep %s: trial %d (job %s) recorded no %s", sweep.id, number, job.id, sweep.metric)
                told(study, number, state=TrialState.FAIL)
        elif state == JobState.pruned:
            told(study, number, state=TrialState.PRUNED)
        elif state.finished:
            told(study, number, state=TrialState.FAIL)
        elif state == JobState.running:
            progress = read_progress(job.output)
            if not progress or not progress["points"]:
                return
            sign = studies.curve_sign(progress.get("metric"), sweep.direction)
            total = progress.get("total")
            reached = studies.report_curve(study, number, progress["points"], sign, total)
            if reached is not None and (total is None or reached < total) and studies.should_prune(study, number):
                total = f" of {int(total)}" if total else ""
                stopped = self.stop(job.id, ACTOR, state=JobState.pruned,
                                    message=f"pruned at round {reached}{total}: its holdout {progress.get('metric') or 'loss'} "
                                            f"was worse than the sweep's other trials at that round")
                if stopped:  # else it ended meanwhile, and is told as it ended next tick
                    told(study, number, state=TrialState.PRUNED)

    def _record_best(self, sweep: Sweep, study: optuna.Study) -> None:
        try:
            best = study.best_trial
        except ValueError:  # no trial has completed yet
            return
        with self.sessions() as session:
            record = session.get(Sweep, sweep.id)
            job_id = session.scalar(select(Job.id).where(Job.sweep_id == sweep.id, Job.trial_number == best.number))
            if record.best_job_id != job_id:
                record.best_job_id, record.best_value = job_id, best.value
            session.commit()

    def _finish(self, sweep: Sweep, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False)
        done = {state: sum(t.state == state for t in trials) for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
        summary = f"{len(trials)} trials: {done[TrialState.COMPLETE]} complete, {done[TrialState.PRUNED]} pruned, {done[TrialState.FAIL]} failed"
        with self.sessions() as session:
            record = session.get(Sweep, sweep.id)
            if record.state == SweepState.running.value:
                record.state = (SweepState.complete if done[TrialState.COMPLETE] else SweepState.failed).value
                record.message, record.finished_at = summary + ("" if done[TrialState.COMPLETE] else f"; none recorded {sweep.metric}"), utcnow()
            session.commit()
