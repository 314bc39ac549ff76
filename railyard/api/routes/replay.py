"""POST /job/{id}/replay: run a training job again, with the same published binary sha256 and the same spec.

The caller must be able to read the job (404 otherwise, as for any job) and to submit its spec: the
replay's data is checked against the caller's own data prefixes. The replay belongs to the job's owner and
records the caller as its submitter; `GET /job/{replay}/result` says whether it reproduced the model
(railyard.api.replays).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import ValidationError

from railyard.api.access import authorize_submission
from railyard.api.data_access import prefixes_of
from railyard.api.deps import JobDep, PartsDep, PrincipalDep, SessionDep
from railyard.api.problems import Conflict, Unprocessable
from railyard.api.queueing import earlier_answer, queue
from railyard.api.routes.explain import runnable_binary
from railyard.api.routes.train import ACCESS_ERRORS, admitted
from railyard.api.schemas import TrainResponse
from railyard.api.store.models import Job, utcnow
from railyard.api.trainer_binaries import choose
from railyard.launch.job import JobKind
from railyard.spec import TrainingSpec
from railyard.states import JobState

router = APIRouter(tags=["jobs"])
ERRORS = {
    **{code: ACCESS_ERRORS[code] for code in (401, 403)},
    404: {"description": "No such job, or not one this principal may read"},
    409: {"description": "The job's binary is no longer published, its spec no longer valid, "
                         "or the Idempotency-Key was used for another job"},
    422: {"description": "The job is not a training job"},
    429: {"description": "The job's owner has too many queued jobs (max_queued_per_owner)"},
}


@router.post("/job/{job_id}/replay", status_code=202, response_model=TrainResponse, responses=ERRORS)
def replay_job(job: JobDep, session: SessionDep, principal: PrincipalDep, parts: PartsDep,
               idempotency_key: Annotated[str | None, Header(max_length=255)] = None):
    """Queue the same binary and spec as job `job_id` again; its result compares the two runs."""
    if job.kind != JobKind.training.value:
        raise Unprocessable(f"job {job.id} is an {job.kind} job; only a training job can be replayed", loc=("path", "job_id"))
    try:
        spec = TrainingSpec.model_validate(job.spec)
    except ValidationError as exc:
        raise Conflict(f"job {job.id}'s spec is no longer valid here: {exc.errors()[0]['msg']}") from None
    authorize_submission(principal, spec)
    admitted(parts.executor, spec)
    runnable_binary(job, parts.binary_store, parts.settings.dev)
    chosen = choose(session, parts.binary_store, job.binary, job.workflow_modules, dev=parts.settings.dev)
    request_hash = hashlib.sha256(f"replay {job.id}".encode()).hexdigest()
    if idempotency_key:
        earlier = earlier_answer(session, idempotency_key, principal.owner, request_hash)
        if earlier is not None:
            return earlier

    job_id = str(uuid.uuid4())
    again = Job(
        id=job_id, created_at=utcnow(), state=JobState.queued.value, submitted_by=principal.owner,
        owner=job.owner, project=job.project, trainer=job.trainer, model_name=job.model_name, workflow=job.workflow,
        compute_resource=job.compute_resource, spec=job.spec, spec_hash=job.spec_hash, binary=chosen.reference,
        binary_sha256=chosen.sha256, git_commit=chosen.git_commit, workflow_modules=job.workflow_modules,
        output=parts.executor.output_uri(job_id), data_prefixes=prefixes_of(principal), replays_job_id=job.id,
    )
    return queue(session, parts.write_lock, again, TrainResponse(job_id=job_id).model_dump(), principal, parts.metrics,
                 idempotency_key, request_hash, parts.settings.max_queued_per_owner)
