"""Proof-of-delivery photos and signatures, made safe to keep and upload.

A photo from the truck's camera is untrusted bytes. ``prepare_photo`` accepts JPEG and PNG only
(sniffed from the magic bytes, never from a file name or a claimed type), refuses files that are
too large before Pillow sees them and images with too many pixels before anything is decoded
(decompression bombs), turns the picture upright from its EXIF orientation, scales it down and
re-encodes it as a JPEG that carries no metadata at all (no EXIF, GPS, XMP, ICC or comments).
The sha256 of the bytes as captured is kept as evidence next to the sha256 of the upload.

``render_signature`` draws the strokes a touch screen reported as a small greyscale PNG; the
sha256 of a canonical JSON of the strokes is the evidence of what was signed.

Both are deterministic: the same input gives the same bytes. Nothing here changes Pillow's global
settings (``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``, warning filters), so
it is safe to call from several threads.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import structlog
from PIL import ExifTags, Image, ImageDraw

from protocols import Attachment

log = structlog.get_logger("edge_agent.images")

ContentType = Literal["image/jpeg", "image/png"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

MAX_STROKES = 200
MAX_POINTS = 10_000
OVERSHOOT = 0.05
"""Touch points this far outside the canvas (in canvas units) are clamped onto it."""
_SUPERSAMPLE = 4
"""Signatures are drawn this many times larger and scaled down, which anti-aliases the lines."""

# Everything Pillow is known to raise on malformed input while opening, decoding or reading EXIF.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,  # raised by the PNG and JPEG plugins for broken structure
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    Image.DecompressionBombError,
)
# Reading EXIF from a picture that decoded fine; Pillow's TIFF tag code also raises TypeError.
_EXIF_ERRORS: tuple[type[Exception], ...] = (*_DECODE_ERRORS, TypeError)


class ImageRejected(ValueError):
    """The input is not an image we accept. ``reason`` is a short machine-readable code:
    ``empty``, ``too_large``, ``format``, ``too_many_pixels``, ``corrupt`` (photos) or, for
    signatures, ``empty``, ``too_many_strokes``, ``too_many_points``, ``malformed``,
    ``out_of_range``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class SignatureRejected(ImageRejected):
    """The strokes of a signature are empty, too many, malformed or off the canvas."""


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    content_type: ContentType
    width: int
    height: int
    sha256: str
    """Hex sha256 of ``data``, the bytes that are uploaded."""
    original_sha256: str
    """Hex sha256 of the input as captured (the photo file, or the canonical stroke JSON)."""

    @property
    def size(self) -> int:
        return len(self.data)

    def attachment(self, filename: str) -> Attachment:
        """The ``protocols.Attachment`` that announces this image in a message."""
        return Attachment(
            sha256=self.sha256,
            content_type=self.content_type,
            size=self.size,
            filename=filename,
            original_sha256=self.original_sha256,
        )


# ---------------------------------------------------------------------------------------------
# Photos


def prepare_photo(
    data: bytes,
    *,
    max_side: int = 1600,
    max_bytes: int = 15 * 2**20,
    max_pixels: int = 40_000_000,
    quality: int = 85,
) -> PreparedImage:
    """Check, orient, downscale and strip a captured photo; always returns a JPEG.

    Raises ``ImageRejected`` for anything that is not a sound JPEG or PNG within the limits.
    """
    if max_side < 1 or max_bytes < 1 or max_pixels < 1 or not 1 <= quality <= 95:
        raise ValueError("max_side, max_bytes, max_pixels must be positive and quality 1..95")
    try:
        return _prepare_photo(
            bytes(data),
            max_side=max_side,
            max_bytes=max_bytes,
            max_pixels=_effective_pixel_limit(max_pixels),
            quality=quality,
        )
    except ImageRejected as exc:
        log.warning("edge_agent.image_rejected", reason=exc.reason, detail=exc.message)
        raise


def _prepare_photo(
    data: bytes, *, max_side: int, max_bytes: int, max_pixels: int, quality: int
) -> PreparedImage:
    # 1. Cheap checks on the raw bytes, before Pillow touches them.
    if not data:
        raise ImageRejected("empty", "no data")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes, limit {max_bytes}")
    fmt = _sniff(data)
    width, height = _PIXEL_SIZE_READERS[fmt](data)
    _check_pixels(width, height, max_pixels)

    # 2. Open lazily with only the sniffed format allowed, and check the size Pillow found.
    try:
        im = Image.open(io.BytesIO(data), formats=[fmt])
        _check_pixels(im.width, im.height, max_pixels)
        stored_target = _fit(im.width, im.height, max_side)
        if fmt == "JPEG" and stored_target != im.size:
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: less memory and time for big photos.
            im.draft(None, stored_target)
        im.load()
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_many_pixels", str(exc)) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("corrupt", f"{fmt} does not decode: {exc}") from exc

    # 3. Upright, RGB, at most max_side, then a fresh image so no metadata can ride along.
    rgb = _to_rgb(_upright(im))
    target = _fit(rgb.width, rgb.height, max_side)
    if target != rgb.size:
        rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())

    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return _prepared(out.getvalue(), "image/jpeg", clean.size, original=data)


def _effective_pixel_limit(max_pixels: int) -> int:
    """Stay at or below Pillow's own bomb limit, so its warning can never be what lets a bomb
    through: anything that would trigger it is refused by our check first."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit is None:
        return max_pixels
    return min(max_pixels, int(pillow_limit))


def _sniff(data: bytes) -> Literal["JPEG", "PNG"]:
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data.startswith(PNG_MAGIC):
        return "PNG"
    raise ImageRejected("format", f"not a JPEG or PNG (starts with {data[:8].hex()})")


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise ImageRejected("corrupt", f"image has no area ({width}x{height})")
    if width * height > max_pixels:
        raise ImageRejected(
            "too_many_pixels", f"{width}x{height} = {width * height} pixels, limit {max_pixels}"
        )


def _png_size(data: bytes) -> tuple[int, int]:
    # signature (8) | length (4) = 13 | "IHDR" | width (4) | height (4) | ...
    if len(data) < 33 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise ImageRejected("corrupt", "PNG without an IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# Start-of-frame markers, whose segment carries the image dimensions (Pillow's table, incl. DHP).
_JPEG_SOF = frozenset({*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC} | {0xDE})
# Markers without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """The largest frame declared in the JPEG headers (up to the first scan), without decoding.

    Like Pillow, bytes between segments that are not a marker are skipped."""
    largest: tuple[int, int] | None = None
    pos = 2
    end = len(data)
    while pos < end:
        if data[pos] != 0xFF:
            pos += 1
            continue
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan
            break
        if pos + 2 > end:
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            raise ImageRejected("corrupt", f"JPEG segment {marker:#04x} of length {length}")
        if marker in _JPEG_SOF:
            if pos + 7 > end:
                break
            # length (2) | precision (1) | height (2) | width (2) | components ...
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            if largest is None or width * height > largest[0] * largest[1]:
                largest = (width, height)
        pos += length
    if largest is None:
        raise ImageRejected("corrupt", "JPEG without a frame header")
    return largest


_PIXEL_SIZE_READERS = {"JPEG": _jpeg_size, "PNG": _png_size}


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Scale down (never up) so the longest side is at most ``max_side``, keeping the aspect."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


# EXIF orientation -> the transposition that shows the picture upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation.

    Not ``ImageOps.exif_transpose``: besides transposing, it re-serialises the EXIF to drop the
    orientation tag, and on malformed EXIF that raises (TypeError in Pillow 13). We discard the
    EXIF anyway. Unreadable EXIF leaves the picture as stored: the photo is still good evidence.
    """
    try:
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    except _EXIF_ERRORS as exc:
        log.warning("edge_agent.image_exif_unreadable", error=str(exc))
        return im
    method = _ORIENTATION.get(orientation) if isinstance(orientation, int) else None
    return im if method is None else im.transpose(method)


def _to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB; transparency is flattened onto white, 16-bit grey is scaled, not clipped."""
    mode = im.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        # 16-bit PNG grey: 0..65535 -> 0..255 (a plain convert would clip everything to white).
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
    # An alpha band, or a PNG tRNS chunk (a transparent palette entry or colour key).
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im if mode == "RGB" else im.convert("RGB")


def _prepared(
    data: bytes, content_type: ContentType, size: tuple[int, int], *, original: bytes
) -> PreparedImage:
    return PreparedImage(
        data=data,
        content_type=content_type,
        width=size[0],
        height=size[1],
        sha256=hashlib.sha256(data).hexdigest(),
        original_sha256=hashlib.sha256(original).hexdigest(),
    )


# ---------------------------------------------------------------------------------------------
# Signatures

Point = tuple[float, float]


def render_signature(
    strokes: Sequence[Sequence[tuple[float, float]]],
    *,
    width: int = 600,
    height: int = 200,
    line_width: int = 3,
) -> PreparedImage:
    """Draw touch-screen strokes (points in 0..1 canvas coordinates) as black on white.

    A stroke of one point is a dot. Raises ``SignatureRejected`` for no points, more than
    ``MAX_STROKES`` strokes or ``MAX_POINTS`` points, malformed or non-finite points, or points
    more than ``OVERSHOOT`` outside the canvas.
    """
    if not (1 <= width <= 4000 and 1 <= height <= 4000 and 1 <= line_width <= 50):
        raise ValueError("width and height must be 1..4000 and line_width 1..50")
    raw = _validated_strokes(strokes)
    canonical = _canonical_json(raw)

    s = _SUPERSAMPLE
    big_w, big_h = width * s, height * s
    pen = line_width * s
    radius = pen / 2
    canvas = Image.new("L", (big_w, big_h), 255)
    draw = ImageDraw.Draw(canvas)
    for stroke in raw:
        if not stroke:
            continue
        pts = [(_clamp(x) * (big_w - 1), _clamp(y) * (big_h - 1)) for x, y in stroke]
        if len(pts) > 1:
            draw.line(pts, fill=0, width=pen, joint="curve")
        for x, y in (pts[0], pts[-1]) if len(pts) > 1 else pts:  # round caps, or the dot
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    small = canvas.resize((width, height), Image.Resampling.BOX)

    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return _prepared(out.getvalue(), "image/png", small.size, original=canonical)


def canonical_strokes(strokes: Sequence[Sequence[tuple[float, float]]]) -> bytes:
    """The strokes as compact JSON with every coordinate a float, as given (before clamping):
    ``[[[x,y],...],...]``. Its sha256 is a rendered signature's ``original_sha256``; keep these
    bytes as the evidence of what was signed. Raises ``SignatureRejected`` like
    ``render_signature``."""
    return _canonical_json(_validated_strokes(strokes))


def _canonical_json(strokes: list[list[Point]]) -> bytes:
    return json.dumps(strokes, separators=(",", ":"), allow_nan=False).encode()


def _validated_strokes(strokes: Sequence[Sequence[tuple[float, float]]]) -> list[list[Point]]:
    if isinstance(strokes, str | bytes) or not isinstance(strokes, Sequence):
        raise SignatureRejected("malformed", "strokes must be a list of lists of (x, y) points")
    if len(strokes) > MAX_STROKES:
        raise SignatureRejected("too_many_strokes", f"{len(strokes)} strokes, limit {MAX_STROKES}")
    result: list[list[Point]] = []
    total = 0
    for i, stroke in enumerate(strokes):
        if isinstance(stroke, str | bytes) or not isinstance(stroke, Sequence):
            raise SignatureRejected("malformed", f"stroke {i} is not a list of points")
        total += len(stroke)
        if total > MAX_POINTS:
            raise SignatureRejected("too_many_points", f"more than {MAX_POINTS} points")
        result.append([_point(p, i, j) for j, p in enumerate(stroke)])
    if total == 0:
        raise SignatureRejected("empty", "the signature has no points")
    return result


def _point(p: object, i: int, j: int) -> Point:
    where = f"stroke {i} point {j}"
    if not isinstance(p, Sequence) or isinstance(p, str | bytes) or len(p) != 2:
        raise SignatureRejected("malformed", f"{where} is not an (x, y) pair")
    coords: list[float] = []
    for c in p:
        if isinstance(c, bool) or not isinstance(c, int | float):
            raise SignatureRejected("malformed", f"{where} has a non-numeric coordinate")
        try:
            value = float(c)
        except OverflowError:  # an int beyond the float range
            value = math.inf
        if not math.isfinite(value):
            raise SignatureRejected("out_of_range", f"{where} is not finite")
        if not -OVERSHOOT <= value <= 1 + OVERSHOOT:
            raise SignatureRejected("out_of_range", f"{where} ({value}) is off the canvas")
        coords.append(value)
    return coords[0], coords[1]


def _clamp(v: float) -> float:
    return min(1.0, max(0.0, v))
