"""What an uploaded file must be before it is stored: one of a few types, checked from the bytes
(never from a file name), within size and pixel limits, and nothing a browser could be tricked
into running (polyglots: an image or PDF with HTML or script riding along).

- images (JPEG, PNG): the header is decoded with Pillow without loading any pixel, the format
  must be the claimed one, at most ``MAX_PIXELS`` pixels and ``MAX_SIDE`` per side (a
  decompression bomb is refused before anything is decoded); PNG chunk checksums are verified;
  nothing may follow the image's end marker; no markup in the file outside its compressed
  pixel data (the first KB, every chunk or marker segment, inflated text chunks: see
  ``_image_metadata``; in pixel data such bytes occur by chance in genuine photos).
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
import zlib
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
    if any(_MARKUP.search(part) for part in _image_metadata(data, fmt)):
        raise DocumentRejected(f"{fmt} image contains markup (HTML or script)")


def _image_metadata(data: bytes, fmt: str) -> list[bytes]:
    """The parts of an image where markup could hide, without its compressed pixel data: in
    that, any 5-byte pattern turns up by chance (``<html`` about once in 3,000 photos of 3 MB),
    and a genuine photo must not be refused for it. The first ``_SNIFF_BYTES`` always count
    (what a browser sniffs); then the raw file with the pixel data cut out (PNG: the data of
    IDAT and fdAT chunks; JPEG: the entropy-coded data after each SOS), so every chunk, marker
    segment (COM, APPn, tables) and anything between or after them is scanned as stored; plus
    the inflated text of compressed PNG text chunks. A file that does not parse is scanned
    whole, as before."""
    try:
        if fmt == "PNG":
            cuts, inflated = _png_pixel_spans(data)
        else:
            cuts, inflated = _jpeg_pixel_spans(data), []
    except _Unparsed:
        return [data]
    parts, at = [data[:_SNIFF_BYTES]], 0
    for start, end in cuts:
        parts.append(data[at:start])
        at = end
    parts.append(data[at:])
    return parts + inflated


_SNIFF_BYTES = 1024
_MAX_INFLATED_TEXT = 1 << 20
"""A compressed PNG text chunk that inflates beyond this is refused (a zip bomb in text)."""
_PNG_PIXEL_CHUNKS = {b"IDAT": 0, b"fdAT": 4}
"""Chunks of compressed pixel data, with the bytes before the pixel data in each (fdAT, the
frames of an animated PNG, start with a sequence number)."""


class _Unparsed(Exception):
    """The structure does not parse; the caller scans the whole file."""


def _png_pixel_spans(data: bytes) -> tuple[list[tuple[int, int]], list[bytes]]:
    """(start, end) of each chunk's pixel data, and the inflated text of zTXt/iTXt chunks."""
    spans: list[tuple[int, int]] = []
    texts: list[bytes] = []
    at = len(_PNG_MAGIC)
    while at + 12 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        start, end = at + 8, at + 8 + length
        if end + 4 > len(data):
            raise _Unparsed
        if kind in _PNG_PIXEL_CHUNKS:
            spans.append((start + _PNG_PIXEL_CHUNKS[kind], end))
        elif kind == b"zTXt":
            _, _, rest = data[start:end].partition(b"\x00")
            texts.append(_inflate_text(rest[1:]))  # after the compression method byte
        elif kind == b"iTXt":
            _, _, rest = data[start:end].partition(b"\x00")
            compressed, text = rest[:1] == b"\x01", rest[2:]
            _, _, text = text.partition(b"\x00")  # language tag
            _, _, text = text.partition(b"\x00")  # translated keyword
            if compressed:
                texts.append(_inflate_text(text))
        at = end + 4
        if kind == b"IEND":
            return spans, texts
    raise _Unparsed


def _inflate_text(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, _MAX_INFLATED_TEXT)
    except zlib.error as exc:
        raise DocumentRejected(f"PNG text chunk does not inflate: {exc}") from None
    if inflater.unconsumed_tail:
        raise DocumentRejected(f"PNG text chunk inflates beyond {_MAX_INFLATED_TEXT} bytes")
    return text


_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
"""Markers without a length: TEM and RST0-7 (SOI and EOI are handled apart)."""


def _jpeg_pixel_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each scan's entropy-coded data. Within it a 0xFF byte is followed by
    0x00 (a stuffed byte) or a restart marker; any other marker ends the scan. Images that
    follow the first one's EOI (phones append a preview: MPF) are walked the same way;
    anything else after EOI is left in (scanned)."""
    spans: list[tuple[int, int]] = []
    at = 2  # after SOI
    while at < len(data):
        if data[at] != 0xFF:
            raise _Unparsed
        marker = data[at + 1] if at + 1 < len(data) else None
        if marker is None:
            raise _Unparsed
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0xD9:  # EOI
            at += 2
            if data[at : at + 3] == _JPEG_MAGIC:
                at += 2
                continue
            return spans
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if at + 4 > len(data):
            raise _Unparsed
        end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if end > len(data):
            raise _Unparsed
        at = end
        if marker != 0xDA:  # SOS: the entropy-coded data follows its header
            continue
        scan_end = at
        while True:
            scan_end = data.find(b"\xff", scan_end)
            if scan_end < 0 or scan_end + 1 >= len(data):
                raise _Unparsed
            following = data[scan_end + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                scan_end += 2
                continue
            break
        spans.append((at, scan_end))
        at = scan_end
    raise _Unparsed


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
