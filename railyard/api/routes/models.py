"""A model's ship history: every ship and unship of its jobs, with who and when, newest first.

Kept in its own table (`ship_events`): a job's own `shipped_by`/`shipped_at` say only its latest change. A reader
sees the events of the jobs it may read, as everywhere else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from railyard.api.deps import PrincipalDep, SessionDep
from railyard.api.schemas import ShipEventOut, ShipHistory
from railyard.api.store import service

router = APIRouter(tags=["models"])
MAX_EVENTS = 500


@router.get("/models/{model_name:path}/history", response_model=ShipHistory,
            responses={404: {"description": "A path no route matches (a model name with a line break)"}})
def ship_history(session: SessionDep, principal: PrincipalDep, model_name: str,
                 limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
                 before: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> ShipHistory:
    """The model's ships and unships, newest first; `next_before` pages to older ones."""
    events = service.ship_history(session, model_name=model_name, owners=principal.owners, limit=limit + 1, before=before) \
        if len(model_name) <= 512 else []  # no model has a longer name
    following = events[limit - 1].id if len(events) > limit else None
    return ShipHistory(events=[ShipEventOut.model_validate(e, from_attributes=True) for e in events[:limit]], next_before=following)
