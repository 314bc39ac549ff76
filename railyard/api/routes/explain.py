"""POST /explain: queue an explanation job for a trained model.

The model is named by its id or by the training job that made it, and is found
only among the training jobs the caller may read: another owner's model or job
is answered 404, exactly as the job routes answer. The explanation job belongs
to the training job's owner (the caller's own or one of its teams, or the
caller cannot read it), records the caller as its submitter, and runs the
binary recorded for the training job, never one the request names. The trainer
reads the model from the training job's output (`<output>/model/<model id>`)
and verifies its bytes against the id before loading it.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy.orm import Session

from railyard import artifacts
from railyard.api.access import authorize_explanation
from railyard.api.auth import Principal
from railyard.api.data_access import prefixes_of
from railyard.api.deps import PartsDep, PrincipalDep, SessionDep
from railyard.api.problems import Conflict, Unprocessable
from railyard.api.queueing import earlier_answer, queue
from railyard.api.routes.train import ACCESS_ERRORS
from railyard.api.schemas import ExplainRequest, ExplainResponse
from railyard.api.store import service
from railyard.api.store.models import Job, utcnow
from railyard.launch.job import JobKind
from railyard.states import JobState

router = APIRouter(tags=["explanation"])
ERRORS = {
    **{code: ACCESS_ERRORS[code] for code in (401, 403)},
    404: {"description": "No such model or training job, or not one this principal may read"},
    409: {"description": "The training job is not complete, its binary is no longer published, "
                         "or the Idempotency-Key was used with a different body"},
    422: {"description": "A bad field, named in `loc`"},
    429: {"description": "The training job's owner has too many queued jobs (max_queued_per_owner)"},
}


def training_job(session: Session, principal: Principal, body: ExplainRequest) -> Job:
    """The complete training job whose model the request names, once the principal may explain it."""
    if body.training_job_id is not None:
        found, named = service.get_job(session, job_id=body.training_job_id), f"job {body.training_job_id}"
    else:
        found = service.training_of_model(session, model_id=body.model_id, owners=principal.owners)
        named = f"model {body.model_id}"
    training = authorize_explanation(principal, found, named, body.data)
    if training.kind != JobKind.training.value:
        raise Unprocessable(f"job {training.id} is an explanation job; name a training job", loc=("body", "training_job_id"))
    if training.state != JobState.complete.value or not training.model_id:
        raise Conflict(f"job {training.id} is {training.state}; only a complete training job has a model to explain")
    return training


def runnable_binary(training: Job, store, dev: bool) -> None:
    """Refuse a job whose trainer binary is no longer in the store (a --dev service resolves its binaries itself)."""
    if dev or (training.binary_sha256 and store.has(training.binary_sha256)):
        return
    raise Conflict(f"{training.binary}, the binary of job {training.id}, is not in this service's binary store")


@router.post("/explain", status_code=202, response_model=ExplainResponse, responses=ERRORS)
def explain(
    body: ExplainRequest,
    session: SessionDep,
    principal: PrincipalDep,
    parts: PartsDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
):
    """Explain a trained model's scores on the given rows, with the binary that trained it; a job of kind `explanation`."""
    training = training_job(session, principal, body)
    runnable_binary(training, parts.binary_store, parts.settings.dev)
    request_hash = hashlib.sha256(b"explain " + body.model_dump_json().encode()).hexdigest()
    if idempotency_key:
        earlier = earlier_answer(session, idempotency_key, principal.owner, request_hash)
        if earlier is not None:
            return earlier

    job_id = str(uuid.uuid4())
    job = Job(
        id=job_id, created_at=utcnow(), state=JobState.queued.value, submitted_by=principal.owner, kind=JobKind.explanation.value,
        owner=training.owner, project=training.project, trainer=training.trainer, model_name=training.model_name,
        workflow=training.workflow, compute_resource=body.compute_resource.value if body.compute_resource else training.compute_resource,
        spec=training.spec, spec_hash=training.spec_hash, binary=training.binary, binary_sha256=training.binary_sha256,
        git_commit=training.git_commit, workflow_modules=[], output=parts.executor.output_uri(job_id),
        model_id=training.model_id, explains_job_id=training.id, data_prefixes=prefixes_of(principal),
        explanation={"model": artifacts.location("model", training.model_id, base=training.output), "data": body.data,
                     "rows": body.rows, "key_columns": list(body.key_columns)},
    )
    response = ExplainResponse(job_id=job_id, model_id=training.model_id, training_job_id=training.id).model_dump()
    return queue(session, parts.write_lock, job, response, principal, parts.metrics, idempotency_key, request_hash,
                 parts.settings.max_queued_per_owner)
