"""Response headers every answer carries: no framing, no sniffing, no referrer, no caching of what a principal sees.

The pages load only this service's own files (`default-src 'self'`: no inline
script or style, no other origin) and may not be framed by anyone
(`frame-ancestors 'none'` and `X-Frame-Options: DENY`), so a page of another
site cannot make a signed-in user click "ship". A response that sets its own
`Content-Security-Policy` (the API explorer's page) keeps it. Only `/static`
and `/healthz` may be cached.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                           "form-action 'self'; object-src 'none'")
CACHEABLE = ("/static/", "/healthz")
_FIXED = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cacheable = scope["path"].startswith(CACHEABLE)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [h for h in _FIXED if h[0] not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                if not cacheable and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
