"""The OpenAPI document and its interactive page, behind the same principals as every other route.

The page is Swagger UI from its CDN; its response allows that origin and its
one inline script (by hash) and nothing else, and, like every page, no framing.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from railyard.api.deps import PagePrincipalDep, PrincipalDep

router = APIRouter(include_in_schema=False)
CDN = "https://cdn.jsdelivr.net"


def _page_policy(page: bytes) -> str:
    inline = re.findall(rb"<script>(.*?)</script>", page, re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline)
    return (f"default-src 'self'; script-src {CDN} {hashes}; style-src {CDN}; img-src 'self' data: https:; "
            "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


@router.get("/openapi.json")
async def openapi(request: Request, principal: PrincipalDep) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", response_class=HTMLResponse)
async def docs(principal: PagePrincipalDep) -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="Railyard API")
    page.headers["Content-Security-Policy"] = _page_policy(page.body)
    return page
