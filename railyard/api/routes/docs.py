"""The OpenAPI document and its interactive page, behind the same principals as every other route."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from railyard.api.deps import PagePrincipalDep, PrincipalDep

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi(request: Request, principal: PrincipalDep) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", response_class=HTMLResponse)
async def docs(principal: PagePrincipalDep) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Railyard API")
