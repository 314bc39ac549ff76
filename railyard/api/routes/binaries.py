"""POST /binaries publishes a trainer pex; GET /binaries lists what was published."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from railyard.api.access import authorize_publish
from railyard.api.deps import PartsDep, PrincipalDep, SessionDep
from railyard.api.schemas import BinariesPage, BinaryOut
from railyard.api.store import binaries as published
from railyard.api.store.models import PublishedBinary
from railyard.binaries.inspect import NotATrainer, build_info
from railyard.binaries.reference import reference

router = APIRouter(tags=["binaries"])


def binary_out(binary: PublishedBinary) -> BinaryOut:
    return BinaryOut(name=binary.name, sha256=binary.sha256, ref=reference(binary.name, binary.sha256), target=binary.target,
                     git_commit=binary.git_commit, git_dirty=binary.git_dirty, requirements=binary.requirements,
                     size_bytes=binary.size_bytes, publisher=binary.publisher, published_at=binary.published_at)


@router.post("/binaries", status_code=201, response_model=BinaryOut,
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
             responses={200: {"description": "These bytes were published already", "model": BinaryOut},
                        403: {"description": "Not allowed to publish"}, 413: {"description": "Larger than the binary size limit"},
                        422: {"description": "Not a Railyard trainer pex"}})
async def publish(request: Request, session: SessionDep, principal: PrincipalDep, parts: PartsDep) -> JSONResponse:
    """Publish a trainer pex (the request body, streamed to disk). Its stamped build info is read without running it."""
    authorize_publish(principal)
    store, settings = parts.binary_store, parts.settings
    upload, sha256, size = await store.receive(request.stream(), settings.max_binary_bytes)
    try:
        info = await run_in_threadpool(build_info, upload)
    except NotATrainer as exc:
        upload.unlink()
        raise NotATrainer(f"not a Railyard trainer pex: {exc}") from None
    except BaseException:
        upload.unlink()  # whatever went wrong, no upload is left behind
        raise
    await run_in_threadpool(store.keep, upload, sha256)
    binary, new = await run_in_threadpool(record, parts.write_lock, session, sha256, info, size, principal.owner)
    return JSONResponse(binary_out(binary).model_dump(mode="json"), status_code=201 if new else 200)


def record(write_lock, session, sha256: str, info: dict, size: int, publisher: str) -> tuple[PublishedBinary, bool]:
    """Record the published binary (in a worker thread, as every database call of an async route)."""
    try:
        with write_lock:
            binary, new = published.record(session, sha256=sha256, info=info, size_bytes=size, publisher=publisher)
            session.commit()
    except IntegrityError:
        session.rollback()  # the same bytes, published at the same moment by another request
        binary, new = published.record(session, sha256=sha256, info=info, size_bytes=size, publisher=publisher)
    return binary, new


@router.get("/binaries", response_model=BinariesPage)
def list_binaries(session: SessionDep, principal: PrincipalDep,
                  name: Annotated[str | None, Query(max_length=128)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> BinariesPage:
    """Published binaries, newest first."""
    return BinariesPage(binaries=[binary_out(b) for b in published.list_binaries(session, name=name, limit=limit)])
