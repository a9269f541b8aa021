"""HTTP caching of portal responses: an ETag from the body, Last-Modified where the data knows."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from email.utils import format_datetime as http_date
from email.utils import parsedate_to_datetime

from aiohttp import web

PAGE_CACHE = "public, max-age=60"


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def cached(request: web.Request, response: web.Response, last_modified: datetime | None = None,
           cache: str = PAGE_CACHE) -> web.Response:
    """ETag (from the body) and Last-Modified (when the data knows); 304 when the reader has it."""
    body = response.body if isinstance(response.body, bytes) else b""
    tag = _etag(body)
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = cache
    if last_modified is not None:
        response.headers["Last-Modified"] = http_date(last_modified.astimezone(timezone.utc), usegmt=True)
    match = request.headers.get("If-None-Match")
    fresh = match is not None and tag in [part.strip() for part in match.split(",")]
    if match is None and last_modified is not None and request.headers.get("If-Modified-Since"):
        try:
            fresh = last_modified.replace(microsecond=0) <= parsedate_to_datetime(request.headers["If-Modified-Since"])
        except (TypeError, ValueError):
            fresh = False
    if fresh and response.status == 200:
        not_modified = web.Response(status=304, headers={k: v for k, v in response.headers.items()
                                                          if k in ("ETag", "Cache-Control", "Last-Modified", "Vary")})
        return not_modified
    return response


