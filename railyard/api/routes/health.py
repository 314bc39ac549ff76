"""GET /healthz and GET /metrics (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import text

from railyard.api.deps import PartsDep, SessionDep, get_principal
from railyard.api.schemas import Health
from railyard.api.store import service

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
def healthz(session: SessionDep, parts: PartsDep) -> Health:
    session.execute(text("SELECT 1"))
    dispatching = "running" if parts.dispatcher.alive else ("disabled" if not parts.settings.dispatch else "stopped")
    return Health(status="ok", database="ok", dispatcher=dispatching)


async def metrics_reader(request: Request) -> None:
    """Metrics need a token unless the operator opened them (`serve --metrics-open`)."""
    if not request.app.state.parts.settings.metrics_open:
        await get_principal(request)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}},
            dependencies=[Depends(metrics_reader)])
def metrics(session: SessionDep, parts: PartsDep) -> Response:
    body = parts.metrics.render(service.count_by_state(session))
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
