"""What an uploaded file must be before it is stored: one of a few types, checked from the bytes
(never from a file name), within size and pixel limits, and nothing a browser could be tricked
into running (polyglots: an image or PDF with HTML or script riding along).

- images (JPEG, PNG): the header is decoded with Pillow without loading any pixel, the format
  must be the claimed one, at most ``MAX_PIXELS`` pixels and ``MAX_SIDE`` per side (a
  decompression bomb is refused before anything is decoded); PNG chunk checksums are verified;
  nothing may follow the image's end marker; no markup anywhere in the file.
- PDF: ``%PDF-`` header, ``%%EOF`` near the end, no JavaScript or launch actions (a plain byte
  scan: names hidden in compressed object streams escape it, which is why downloads are also
  served as attachments with ``nosniff`` and a sandboxing CSP).
- text/plain: UTF-8.

Also the checks of the other upload parameters (file name, kind), so both upload routes refuse
the same things before reading or storing anything.
"""

from __future__ import annotations

import io
import re
import unicodedata
from typing import Literal

from PIL import Image

from cloud.errors import PayloadTooLarge, Unprocessable

ALLOWED_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf", "text/plain"})
DocumentKind = Literal["photo", "signature", "ticket", "other"]
MAX_UPLOAD_BYTES = 20 * 2**20
MAX_PIXELS = 40_000_000
"""40 MP: more than any truck camera or scanner page we expect."""
MAX_SIDE = 12_000
MAX_FILENAME = 120
"""``documents.filename`` is ``varchar(120)``."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_PDF_MAGIC = b"%PDF-"
_IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
_MAGIC = {"image/jpeg": _JPEG_MAGIC, "image/png": _PNG_MAGIC, "application/pdf": _PDF_MAGIC}

# Markup a browser would act on. Long enough that compressed image data does not contain one by
# chance (each is 5 or more bytes, matched case-insensitively).
_MARKUP = re.compile(
    rb"<(?:script|html|body|iframe|object|embed|svg[\s/>]|\?php|!doctype\s+html)|javascript:",
    re.IGNORECASE,
)
_PDF_ACTIVE = re.compile(rb"/(?:JavaScript|Launch|EmbeddedFile|RichMedia)\b")
_TRAILING_PADDING = frozenset(b"\x00\r\n\t ")

# Everything Pillow is known to raise on malformed input while opening or verifying.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
)


class DocumentRejected(Unprocessable):
    """The file is not what it claims, or not something we keep."""


class UploadTooLarge(PayloadTooLarge):
    pass


class FilenameInvalid(Unprocessable):
    pass


def media_type(header: str | None) -> str:
    """The bare media type of a ``Content-Type`` header: lower case, no parameters."""
    return (header or "application/octet-stream").split(";", 1)[0].strip().lower()


def check_filename(name: str) -> str:
    """A file name we can store and send back: 1 to 120 characters, no control characters
    (CR/LF would break headers), no path separators, not ``.``/``..``. Unicode is fine."""
    name = unicodedata.normalize("NFC", name).strip()
    if not name or len(name) > MAX_FILENAME:
        raise FilenameInvalid(f"filename must be 1 to {MAX_FILENAME} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name):
        raise FilenameInvalid("filename must not contain control or format characters")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise FilenameInvalid("filename must not contain a path")
    return name


def check_size(size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise UploadTooLarge(f"upload of {size} bytes exceeds {MAX_UPLOAD_BYTES}")


def check_content(data: bytes, content_type: str) -> None:
    """Refuse anything but a sound file of the claimed, allowed type (``DocumentRejected``)."""
    if content_type not in ALLOWED_TYPES:
        raise DocumentRejected(
            f"content type {content_type!r} not allowed: {sorted(ALLOWED_TYPES)}"
        )
    if not data:
        raise DocumentRejected("empty file")
    check_size(len(data))
    magic = _MAGIC.get(content_type)
    if magic is not None and not data.startswith(magic):
        raise DocumentRejected(f"the bytes are not {content_type}")
    if content_type in _IMAGE_FORMATS:
        _check_image(data, _IMAGE_FORMATS[content_type])
    elif content_type == "application/pdf":
        _check_pdf(data)
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise DocumentRejected("text/plain must be UTF-8") from None


def _check_image(data: bytes, fmt: str) -> None:
    try:
        # Lazy: reads the header only. Pillow's own bomb check fires here for the worst cases.
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            width, height = im.size
            if width < 1 or height < 1:
                raise DocumentRejected(f"image has no area ({width}x{height})")
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise DocumentRejected(
                    f"image of {width}x{height} pixels exceeds the limit "
                    f"({MAX_PIXELS} pixels, {MAX_SIDE} per side)"
                )
            if fmt == "PNG":
                im.verify()  # chunk checksums, without decoding pixels
    except DocumentRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise DocumentRejected(f"image has too many pixels: {exc}") from None
    except _DECODE_ERRORS as exc:
        raise DocumentRejected(f"not a sound {fmt} image: {exc}") from None
    end = _image_end(data, fmt)
    if end is None:
        raise DocumentRejected(f"{fmt} image has no end marker")
    if any(b not in _TRAILING_PADDING for b in data[end:]):
        raise DocumentRejected(f"{len(data) - end} bytes of other data follow the {fmt} image")
    if _MARKUP.search(data):
        raise DocumentRejected(f"{fmt} image contains markup (HTML or script)")


def _image_end(data: bytes, fmt: str) -> int | None:
    """Offset just past the image's last end marker (PNG: the IEND chunk and its CRC; JPEG: the
    last EOI marker), or None if there is none."""
    if fmt == "PNG":
        at = data.rfind(b"IEND")
        return None if at < 0 else at + 8
    at = data.rfind(b"\xff\xd9")
    return None if at < 0 else at + 2


def _check_pdf(data: bytes) -> None:
    if b"%%EOF" not in data[-1024:]:
        raise DocumentRejected("PDF has no %%EOF trailer")
    if _PDF_ACTIVE.search(data):
        raise DocumentRejected("PDF contains JavaScript, launch actions or embedded files")
    if _MARKUP.search(data):
        raise DocumentRejected("PDF contains markup (HTML or script)")
