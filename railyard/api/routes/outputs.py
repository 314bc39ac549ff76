"""A complete training job's files for whoever may read the job: its report.html and its model artifact.

The report is the trainer's page, so it is served sandboxed (`Content-Security-Policy: sandbox`: an origin
of its own, no script, nothing fetched), never as a page of the service's origin. The model is a download,
read in chunks from the job's own output (`<output>/model/<model id>`, the id recorded when the job ended),
never from a path its result.json names; `railyard predict` checks its bytes against the id.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from railyard.api.deps import JobDep
from railyard.api.problems import NotFound
from railyard.errors import RailyardError
from railyard.launch.job import JobKind
from railyard.model.artifact import is_model_id
from railyard.report import REPORT_FILE
from railyard.run_layout import MODEL
from railyard.states import JobState
from railyard.storage import open_store

router = APIRouter(tags=["jobs"])
MAX_REPORT_BYTES = 4 << 20  # as much as a page reads of one output file (routes/dashboard.py)
MODEL_CHUNK_BYTES = 1 << 20
REPORT_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
NOT_FOUND = {404: {"description": "No such job, or it has no such file"}}


def _complete_training(job) -> None:
    if job.state != JobState.complete.value or job.kind != JobKind.training.value:
        raise NotFound(f"job {job.id} is {job.state}; only a complete training job has a report and a model")


@router.get("/job/{job_id}/report", responses=NOT_FOUND, response_class=Response)
def report(job: JobDep) -> Response:
    """The job's report.html (at most MAX_REPORT_BYTES), sandboxed."""
    _complete_training(job)
    try:
        page = open_store(job.output).read_range(REPORT_FILE, 0, MAX_REPORT_BYTES + 1)
    except RailyardError:
        raise NotFound(f"job {job.id} wrote no report") from None
    if len(page) > MAX_REPORT_BYTES:
        raise NotFound(f"job {job.id}'s report is over {MAX_REPORT_BYTES >> 20} MiB; read it where the job wrote it")
    return Response(page, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": REPORT_POLICY})


@router.get("/job/{job_id}/model", responses=NOT_FOUND, response_class=StreamingResponse)
def model(job: JobDep) -> StreamingResponse:
    """The job's model artifact, as a download named by its id."""
    _complete_training(job)
    if not (job.model_id and is_model_id(job.model_id)):
        raise NotFound(f"job {job.id} recorded no model")
    store, name = open_store(job.output), f"{MODEL}/{job.model_id}"
    try:
        first = store.read_range(name, 0, MODEL_CHUNK_BYTES)
    except RailyardError:
        raise NotFound(f"job {job.id}'s model {job.model_id} is not in its output") from None

    def chunks() -> Iterator[bytes]:
        chunk, offset = first, 0
        while chunk:
            yield chunk
            offset += len(chunk)
            chunk = store.read_range(name, offset, MODEL_CHUNK_BYTES) if len(chunk) == MODEL_CHUNK_BYTES else b""

    return StreamingResponse(chunks(), media_type="application/octet-stream",
                             headers={"Content-Disposition": f'attachment; filename="{job.model_id}"'})
