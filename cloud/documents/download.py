"""How a stored document leaves the server: always as an attachment, with the content type
checked at upload (anything else as ``application/octet-stream``), ``nosniff``, a sandboxing
CSP and no caching. The API's downloads and the portal page's use this one answer."""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

from starlette.responses import Response

from cloud.documents.content import ALLOWED_TYPES

_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+,=@-]+")
# RFC 5987 attr-char, besides letters and digits (which ``quote`` never encodes).
_ATTR_CHAR = "!#$&+.^_`|~-"
MAX_FALLBACK = 120

DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Opened in a tab anyway, the file may run nothing and load nothing.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


def content_disposition(filename: str) -> str:
    """``attachment`` with the name twice (RFC 6266): an ASCII fallback with anything that
    could break the header or the client's path removed, and the exact UTF-8 name in
    ``filename*`` (RFC 5987 percent-encoding)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = _FALLBACK_UNSAFE.sub("_", ascii_name).strip(" ._") or "download"
    encoded = urllib.parse.quote(filename, safe=_ATTR_CHAR)
    return f"attachment; filename=\"{fallback[:MAX_FALLBACK]}\"; filename*=UTF-8''{encoded}"


def download_response(data: bytes, *, filename: str, content_type: str, sha256: str) -> Response:
    """The stored bytes of a document as a download."""
    media_type = content_type if content_type in ALLOWED_TYPES else "application/octet-stream"
    return Response(
        data,
        media_type=media_type,
        headers={
            **DOWNLOAD_HEADERS,
            "Content-Disposition": content_disposition(filename),
            "X-Content-SHA256": sha256,
        },
    )
