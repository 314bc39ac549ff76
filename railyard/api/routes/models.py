"""A model's ship history (every ship, unship and refused ship of its jobs, with who, when and the ship gate's
verdict, newest first) and its ship policy (railyard.api.ship_gate).

The history is kept in its own table (`ship_events`): a job's own `shipped_by`/`shipped_at` say only its latest
change. A reader sees the events of the jobs it may read, as everywhere else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from railyard.api import access
from railyard.api.deps import PrincipalDep, SessionDep
from railyard.api.problems import NotFound, Unprocessable
from railyard.api.schemas import ShipEventOut, ShipHistory, ShipPolicyIn, ShipPolicyOut
from railyard.api.store import service
from railyard.api.store.models import ShipPolicy, utcnow

router = APIRouter(tags=["models"])
MAX_EVENTS = 500
MAX_MODEL_NAME = 512
UNROUTABLE = "A path no route matches (a model name with a line break)"


@router.get("/models/{model_name:path}/history", response_model=ShipHistory,
            responses={404: {"description": UNROUTABLE}})
def ship_history(session: SessionDep, principal: PrincipalDep, model_name: str,
                 limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
                 before: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> ShipHistory:
    """The model's ships and unships, newest first; `next_before` pages to older ones."""
    events = service.ship_history(session, model_name=model_name, owners=principal.owners, limit=limit + 1, before=before) \
        if len(model_name) <= MAX_MODEL_NAME else []  # no model has a longer name
    following = events[limit - 1].id if len(events) > limit else None
    return ShipHistory(events=[ShipEventOut.model_validate(e, from_attributes=True) for e in events[:limit]], next_before=following)


def policy_out(policy: ShipPolicy) -> ShipPolicyOut:
    return ShipPolicyOut.model_validate(policy, from_attributes=True)


@router.put("/models/{model_name:path}/ship-policy", response_model=ShipPolicyOut,
            responses={403: {"description": "Not the model's owner nor an admin"}, 404: {"description": UNROUTABLE}})
def set_ship_policy(session: SessionDep, principal: PrincipalDep, model_name: str, body: ShipPolicyIn) -> ShipPolicyOut:
    """Set how a challenger of the owner's model is judged against its shipped champion before it may ship."""
    if not 0 < len(model_name) <= MAX_MODEL_NAME or not model_name.isprintable():
        raise Unprocessable(f"a model name is 1 to {MAX_MODEL_NAME} printable characters", loc=("path", "model_name"))
    owner = body.owner or principal.owner
    access.authorize_ship_policy(principal, owner, body.owner_may_override)
    policy = service.set_ship_policy(session, policy=ShipPolicy(
        owner=owner, model_name=model_name, metric=body.metric, direction=body.direction.value, min_gain=body.min_gain,
        same_holdout=body.same_holdout, owner_may_override=body.owner_may_override, set_by=principal.owner, set_at=utcnow()))
    session.commit()
    return policy_out(policy)


@router.get("/models/{model_name:path}/ship-policy", response_model=ShipPolicyOut, responses={404: {"description": "No policy. " + UNROUTABLE}})
def get_ship_policy(session: SessionDep, principal: PrincipalDep, model_name: str,
                    owner: Annotated[str | None, Query(max_length=256)] = None) -> ShipPolicyOut:
    """The ship policy of `owner`'s model (default: the caller's)."""
    owner = owner or principal.owner
    policy = service.ship_policy(session, owner=owner, model_name=model_name) \
        if principal.may_act_as(owner) and len(model_name) <= MAX_MODEL_NAME else None
    if policy is None:
        raise NotFound(f"no ship policy for {owner}'s model {model_name}")
    return policy_out(policy)
