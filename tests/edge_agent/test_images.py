"""Photo and signature handling (reference tests P1-P4). All inputs are generated here."""

from __future__ import annotations

import hashlib
import io
import json
import random
import resource
import struct
import time
import warnings
import zlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageCms
from pydantic import ValidationError

from edge_agent import images
from edge_agent.images import (
    ImageRejected,
    PreparedImage,
    SignatureRejected,
    canonical_strokes,
    prepare_photo,
    render_signature,
)
from protocols import Attachment

pytestmark = pytest.mark.unit

RED = (255, 0, 0)
BLUE = (0, 0, 255)


# ---------------------------------------------------------------------------------------------
# Builders


def encode(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def noisy(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """An RGB image of random pixels (does not compress, so truncation cuts into the scan)."""
    rnd = random.Random(seed)
    return Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3))


def gps_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "TruckCam"
    exif[ExifTags.Base.DateTime] = "2026:11:27 08:00:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 5.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 12.0)
    return exif


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A structurally valid 1-bit grey PNG header claiming width x height, with the first rows of
    zero pixels as image data: a few hundred bytes that would decode to width*height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = (b"\x00" + bytes((width + 7) // 8)) * 16
    return (
        images.PNG_MAGIC
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows, 9))
        + png_chunk(b"IEND", b"")
    )


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG up to its first scan."""
    markers, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return markers


def png_chunk_types(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def reopen(prepared: PreparedImage) -> Image.Image:
    im = Image.open(io.BytesIO(prepared.data))
    im.load()
    return im


def rgb(im: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    px = im.getpixel(xy)
    assert isinstance(px, tuple)
    return px


def lum(im: Image.Image, xy: tuple[int, int]) -> int:
    px = im.getpixel(xy)
    assert isinstance(px, int)
    return px


def is_red(px: tuple[int, ...]) -> bool:
    return px[0] > 200 and px[1] < 60 and px[2] < 60


def assert_no_photo_metadata(prepared: PreparedImage) -> None:
    im = reopen(prepared)
    assert im.format == "JPEG"
    assert len(im.getexif()) == 0
    assert not {"exif", "icc_profile", "xmp", "comment", "photoshop", "adobe", "mp"} & set(im.info)
    # Only JFIF, tables, frame header and Huffman tables: no APP1 (EXIF/XMP), APP2 (ICC), COM.
    assert set(jpeg_markers(prepared.data)) <= {0xD8, 0xE0, 0xDB, 0xC2, 0xC4, 0xDA}
    for needle in (b"Exif\x00", b"ICC_PROFILE", b"http://ns.adobe.com/xap", b"TruckCam"):
        assert needle not in prepared.data


@pytest.fixture()
def no_pillow_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Pillow is asked to parse the input at all."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Pillow must not see this input")

    monkeypatch.setattr(Image, "open", refuse)


# ---------------------------------------------------------------------------------------------
# Photos: the happy paths


@pytest.fixture(scope="module")
def camera_jpeg() -> bytes:
    """4000x3000 as stored, orientation 6 (shown rotated 90° clockwise), red top-left quarter,
    with EXIF incl. GPS, XMP, an ICC profile and a comment."""
    im = Image.new("RGB", (4000, 3000), BLUE)
    im.paste(RED, (0, 0, 1000, 750))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(
        im,
        "JPEG",
        quality=90,
        exif=gps_exif(orientation=6),
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><tiff:Orientation>6</tiff:Orientation>'
        b"</x:xmpmeta>",
        icc_profile=icc,
        comment=b"driver: J. Jansen",
    )


def test_camera_photo_is_rotated_downscaled_and_stripped(camera_jpeg: bytes) -> None:
    source = Image.open(io.BytesIO(camera_jpeg))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo), "the input really carries GPS"
    assert {"icc_profile", "xmp", "comment"} <= set(source.info)

    out = prepare_photo(camera_jpeg)

    assert out.content_type == "image/jpeg"
    assert (out.width, out.height) == (1200, 1600)
    assert out.sha256 == hashlib.sha256(out.data).hexdigest()
    assert out.original_sha256 == hashlib.sha256(camera_jpeg).hexdigest()
    assert out.size == len(out.data) < len(camera_jpeg)
    im = reopen(out)
    assert im.size == (1200, 1600) and im.mode == "RGB"
    assert im.info.get("progressive") == 1
    # The stored top-left corner is the displayed top-right corner.
    assert is_red(rgb(im, (1150, 50)))
    assert not is_red(rgb(im, (50, 50)))
    assert not is_red(rgb(im, (1150, 1550)))
    assert_no_photo_metadata(out)


@pytest.mark.parametrize(
    ("orientation", "red_corner"),
    [(1, (0, 0)), (3, (1, 1)), (6, (1, 0)), (8, (0, 1)), (2, (1, 0)), (4, (0, 1))],
)
def test_every_orientation_is_made_upright(orientation: int, red_corner: tuple[int, int]) -> None:
    im = Image.new("RGB", (80, 40), BLUE)
    im.paste(RED, (0, 0, 20, 10))
    out = prepare_photo(encode(im, "JPEG", exif=gps_exif(orientation)))
    shown = reopen(out)
    w, h = shown.size
    assert (w, h) == ((40, 80) if orientation in (6, 8) else (80, 40))
    x = 3 if red_corner[0] == 0 else w - 4
    y = 3 if red_corner[1] == 0 else h - 4
    assert is_red(rgb(shown, (x, y)))
    assert_no_photo_metadata(out)


def test_small_photos_are_not_upscaled() -> None:
    out = prepare_photo(encode(noisy((120, 90)), "JPEG"))
    assert (out.width, out.height) == (120, 90)
    assert reopen(out).size == (120, 90)


def test_longest_side_is_capped_keeping_aspect() -> None:
    out = prepare_photo(encode(Image.new("RGB", (3000, 1000), BLUE), "PNG"))
    assert (out.width, out.height) == (1600, 533)
    out = prepare_photo(encode(Image.new("RGB", (500, 2000), BLUE), "JPEG"), max_side=400)
    assert (out.width, out.height) == (100, 400)


def test_png_with_alpha_is_flattened_on_white() -> None:
    im = Image.new("RGBA", (200, 100), (255, 0, 0, 0))  # invisible red
    im.paste((0, 0, 0, 255), (50, 25, 150, 75))
    out = prepare_photo(encode(im, "PNG"))
    assert out.content_type == "image/jpeg"
    shown = reopen(out)
    assert shown.mode == "RGB"
    assert min(rgb(shown, (5, 5))) > 245  # white, not red or black
    assert max(rgb(shown, (100, 50))) < 10
    assert_no_photo_metadata(out)


def _palette_with_transparency() -> Image.Image:
    im = Image.new("P", (40, 40), 0)
    im.putpalette([255, 0, 0, 0, 0, 0] + [0] * 762)
    im.paste(1, (10, 10, 30, 30))
    im.info["transparency"] = 0
    return im


def _cmyk_jpeg() -> bytes:
    return encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG")  # red in CMYK


@pytest.mark.parametrize(
    ("make", "corner", "centre"),
    [
        pytest.param(
            lambda: encode(_palette_with_transparency(), "PNG"), "white", "black", id="P+tRNS"
        ),
        pytest.param(
            lambda: encode(Image.new("LA", (40, 40), (0, 0)), "PNG"), "white", "white", id="LA"
        ),
        pytest.param(
            lambda: encode(Image.new("I;16", (40, 40), 32768), "PNG"), "grey", "grey", id="16bit"
        ),
        pytest.param(
            lambda: encode(Image.new("1", (40, 40), 0), "PNG"), "black", "black", id="1bit"
        ),
        pytest.param(
            lambda: encode(Image.new("L", (40, 40), 0), "JPEG"), "black", "black", id="L-jpeg"
        ),
        pytest.param(_cmyk_jpeg, "red", "red", id="CMYK-jpeg"),
    ],
)
def test_other_modes_become_sensible_rgb(
    make: Callable[[], bytes], corner: str, centre: str
) -> None:
    expected = {
        "white": lambda p: min(p) > 245,
        "black": lambda p: max(p) < 10,
        "grey": lambda p: all(118 < c < 138 for c in p),
        "red": is_red,
    }
    out = prepare_photo(make())
    shown = reopen(out)
    assert shown.mode == "RGB" and shown.size == (40, 40)
    assert expected[corner](rgb(shown, (2, 2))), rgb(shown, (2, 2))
    assert expected[centre](rgb(shown, (20, 20))), rgb(shown, (20, 20))


def test_anything_appended_to_a_jpeg_is_dropped() -> None:
    """A JPEG/ZIP polyglot is re-encoded, so the payload after the image does not survive."""
    polyglot = encode(noisy((64, 64)), "JPEG") + b"PK\x03\x04" + b"payload" * 100
    out = prepare_photo(polyglot)
    assert b"PK\x03\x04" not in out.data and b"payload" not in out.data
    assert out.original_sha256 == hashlib.sha256(polyglot).hexdigest()


def test_orientation_is_read_from_png_exif_too() -> None:
    im = Image.new("RGB", (80, 40), BLUE)
    out = prepare_photo(encode(im, "PNG", exif=gps_exif(6)))
    assert (out.width, out.height) == (40, 80)
    assert_no_photo_metadata(out)


def test_orientation_with_exif_pillow_cannot_rewrite() -> None:
    """Found by fuzzing: ImageOps.exif_transpose re-serialises the EXIF and raises TypeError when
    a rational tag (XResolution) is stored as ASCII. We still rotate and drop the EXIF."""
    ifd = (
        struct.pack(">H", 2)
        + struct.pack(">HHIHH", ExifTags.Base.Orientation, 3, 1, 6, 0)  # SHORT 6
        + struct.pack(">HHI", ExifTags.Base.XResolution, 2, 4)  # ASCII, should be RATIONAL
        + b"abc\x00"
        + struct.pack(">I", 0)
    )
    exif = b"Exif\x00\x00MM\x00*" + struct.pack(">I", 8) + ifd
    out = prepare_photo(encode(Image.new("RGB", (60, 30), BLUE), "JPEG", exif=exif))
    assert (out.width, out.height) == (30, 60)
    assert_no_photo_metadata(out)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_broken_exif_keeps_the_photo_as_stored() -> None:
    data = encode(Image.new("RGB", (60, 30), BLUE), "JPEG", exif=b"Exif\x00\x00MM\x00*garbage")
    out = prepare_photo(data)
    assert (out.width, out.height) == (60, 30)
    assert_no_photo_metadata(out)


def test_the_same_photo_gives_the_same_bytes(camera_jpeg: bytes) -> None:
    small = encode(noisy((300, 200)), "PNG")
    assert prepare_photo(small) == prepare_photo(small)
    assert prepare_photo(camera_jpeg, max_side=400).data == (
        prepare_photo(camera_jpeg, max_side=400).data
    )


def test_quality_is_applied() -> None:
    data = encode(noisy((300, 300)), "PNG")
    assert prepare_photo(data, quality=30).size < prepare_photo(data, quality=90).size


@pytest.mark.parametrize(
    "kwargs",
    [{"max_side": 0}, {"max_bytes": 0}, {"max_pixels": 0}, {"quality": 0}, {"quality": 96}],
)
def test_nonsense_limits_are_a_programming_error(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError) as info:
        prepare_photo(encode(noisy((8, 8)), "JPEG"), **kwargs)
    assert not isinstance(info.value, ImageRejected)


# ---------------------------------------------------------------------------------------------
# Photos: refused formats (P2). None of them reaches Pillow.


def _gif() -> bytes:
    frames = [Image.new("P", (16, 16), i) for i in range(3)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


REFUSED_FORMATS: dict[str, Callable[[], bytes]] = {
    "gif": _gif,
    "webp": lambda: encode(noisy((16, 16)), "WEBP"),
    "bmp": lambda: encode(noisy((16, 16)), "BMP"),
    "tiff": lambda: encode(noisy((16, 16)), "TIFF"),
    "ico": lambda: encode(noisy((16, 16)), "ICO"),
    "eps": lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n",
    "eps-binary": lambda: b"\xc5\xd0\xd3\xc6" + bytes(28) + b"%!PS-Adobe-3.0\n",
    "pdf": lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
    "svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    "heic": lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
    "fits": lambda: b"SIMPLE  =                    T".ljust(2880, b" "),
    "psd": lambda: b"8BPS\x00\x01" + bytes(64),
    "zip": lambda: b"PK\x03\x04" + bytes(64),
    "random": lambda: random.Random(7).randbytes(4096),
    "text": lambda: b"just a photo.jpg",
    "jpeg-magic-only-two-bytes": lambda: b"\xff\xd8",
}


@pytest.mark.parametrize("kind", REFUSED_FORMATS)
def test_other_formats_are_refused_by_their_bytes(kind: str, no_pillow_open: None) -> None:
    data = REFUSED_FORMATS[kind]()
    with pytest.raises(ImageRejected) as info:
        prepare_photo(data)
    assert info.value.reason == "format"
    assert isinstance(info.value, ValueError)
    assert "not a JPEG or PNG" in str(info.value)


def test_empty_input_is_refused(no_pillow_open: None) -> None:
    with pytest.raises(ImageRejected) as info:
        prepare_photo(b"")
    assert info.value.reason == "empty"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = encode(noisy((256, 256)), fmt)
    with pytest.raises(ImageRejected) as info:
        prepare_photo(data[: len(data) // 2])
    assert info.value.reason == "corrupt"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(images.PNG_MAGIC + b"\x00\x00\x00\x0dIHDR", id="png-short-ihdr"),
        pytest.param(images.PNG_MAGIC + png_chunk(b"tEXt", b"a\x00b") * 3, id="png-no-ihdr"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(7), id="jpeg-no-frame"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x01", id="jpeg-bad-segment-length"),
        pytest.param(png_bomb(0, 10), id="png-zero-width"),
    ],
)
def test_broken_headers_are_refused(data: bytes) -> None:
    with pytest.raises(ImageRejected) as info:
        prepare_photo(data)
    assert info.value.reason == "corrupt"


# ---------------------------------------------------------------------------------------------
# Photos: size and pixel limits (P1, P4)


def test_too_many_bytes_is_refused_before_pillow(no_pillow_open: None) -> None:
    with pytest.raises(ImageRejected) as info:
        prepare_photo(images.JPEG_MAGIC + bytes(15 * 2**20))
    assert info.value.reason == "too_large"
    with pytest.raises(ImageRejected) as info:
        prepare_photo(b"\x00" * 101, max_bytes=100)  # size first, then format
    assert info.value.reason == "too_large"


def test_max_bytes_is_inclusive() -> None:
    data = encode(noisy((32, 32)), "PNG")
    prepare_photo(data, max_bytes=len(data))
    with pytest.raises(ImageRejected):
        prepare_photo(data, max_bytes=len(data) - 1)


def test_png_decompression_bomb_is_refused_quickly(no_pillow_open: None) -> None:
    bomb = png_bomb(30_000, 30_000)
    assert len(bomb) < 1024
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as info:
        prepare_photo(bomb)
    assert time.perf_counter() - started < 2.0
    assert info.value.reason == "too_many_pixels"
    assert "30000x30000" in str(info.value)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 200 * 1024


def test_bomb_is_refused_even_when_pillow_limit_is_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ImageRejected) as info:
        prepare_photo(png_bomb(30_000, 30_000))
    assert info.value.reason == "too_many_pixels"


def test_jpeg_claiming_huge_dimensions_is_refused() -> None:
    data = bytearray(encode(noisy((64, 48)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    assert struct.unpack(">HH", data[sof + 5 : sof + 9]) == (48, 64)
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60_000, 60_000)
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as info:
        prepare_photo(bytes(data))
    assert time.perf_counter() - started < 2.0
    assert info.value.reason == "too_many_pixels"


def test_pixel_limit_is_configurable() -> None:
    data = encode(Image.new("RGB", (200, 100), BLUE), "JPEG")
    prepare_photo(data, max_pixels=20_000)
    with pytest.raises(ImageRejected) as info:
        prepare_photo(data, max_pixels=19_999)
    assert info.value.reason == "too_many_pixels"


def test_a_png_with_a_second_larger_ihdr_is_judged_by_what_pillow_sees() -> None:
    small = png_bomb(8, 8)
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30_000, 30_000, 1, 0, 0, 0, 0))
    sneaky = small[:33] + ihdr + small[33:]
    with pytest.raises(ImageRejected) as info:
        prepare_photo(sneaky)
    assert info.value.reason in {"too_many_pixels", "corrupt"}


def test_pillow_bomb_limit_is_respected_without_warnings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lower global Pillow limit wins over ours, and we refuse before Pillow would warn."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = encode(Image.new("RGB", (50, 50), BLUE), "PNG")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageRejected) as info:
            prepare_photo(data)
    assert info.value.reason == "too_many_pixels"


def test_pillow_decompression_bomb_error_is_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    def bomb(*args: object, **kwargs: object) -> None:
        raise Image.DecompressionBombError("too big")

    monkeypatch.setattr(Image, "open", bomb)
    with pytest.raises(ImageRejected) as info:
        prepare_photo(encode(Image.new("RGB", (8, 8)), "PNG"))
    assert info.value.reason == "too_many_pixels"


# ---------------------------------------------------------------------------------------------
# Photos: fuzz (the loop never dies on input)


@pytest.fixture(scope="module")
def fuzz_seeds() -> list[bytes]:
    return [
        encode(noisy((48, 32)), "JPEG", exif=gps_exif(6), quality=80),
        encode(noisy((24, 16)), "JPEG", progressive=True),
        encode(noisy((24, 16)).convert("RGBA"), "PNG"),
    ]


def _accepts_or_rejects(data: bytes) -> None:
    try:
        out = prepare_photo(data, max_pixels=4_000_000)
    except ImageRejected as exc:
        assert exc.reason in {"empty", "too_large", "format", "too_many_pixels", "corrupt"}
    else:
        assert out.content_type == "image/jpeg"
        assert out.sha256 == hashlib.sha256(out.data).hexdigest()


FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(prefix=st.sampled_from([b"", images.JPEG_MAGIC, images.PNG_MAGIC]), body=st.binary())
def test_fuzz_random_bytes_only_ever_raise_image_rejected(prefix: bytes, body: bytes) -> None:
    _accepts_or_rejects(prefix + body)


@FUZZ
@given(
    seed=st.integers(0, 2),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.none() | st.floats(0, 1),
)
def test_fuzz_mutated_images_only_ever_raise_image_rejected(
    fuzz_seeds: list[bytes],
    seed: int,
    edits: list[tuple[float, int]],
    cut: float | None,
) -> None:
    data = bytearray(fuzz_seeds[seed])
    for where, value in edits:
        data[min(len(data) - 1, int(where * len(data)))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    _accepts_or_rejects(bytes(data))


# ---------------------------------------------------------------------------------------------
# The attachment


def test_attachment_announces_the_prepared_photo(camera_jpeg: bytes) -> None:
    out = prepare_photo(camera_jpeg, max_side=200)
    att = out.attachment("pod-4711-1.jpg")
    assert isinstance(att, Attachment)
    assert att.sha256 == out.sha256
    assert att.original_sha256 == out.original_sha256 != out.sha256
    assert (att.content_type, att.size, att.filename) == ("image/jpeg", out.size, "pod-4711-1.jpg")
    assert Attachment.model_validate_json(att.model_dump_json()) == att


def test_attachment_refuses_an_unsafe_filename() -> None:
    out = render_signature([[(0.5, 0.5)]])
    with pytest.raises(ValidationError):
        out.attachment("../../etc/passwd")


def test_prepared_image_is_frozen() -> None:
    out = render_signature([[(0.5, 0.5)]])
    with pytest.raises(AttributeError):
        out.data = b""  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Signatures


def shown(prepared: PreparedImage) -> Image.Image:
    im = reopen(prepared)
    assert im.format == "PNG" and im.mode in ("L", "1")
    return im


def test_a_single_point_is_a_dot() -> None:
    out = render_signature([[(0.5, 0.5)]])
    assert out.content_type == "image/png" and (out.width, out.height) == (600, 200)
    im = shown(out)
    assert im.size == (600, 200)
    assert lum(im, (300, 100)) < 64
    assert lum(im, (310, 100)) == 255 and lum(im, (0, 0)) == 255
    dark = sum(1 for v in im.tobytes() if v < 128)
    assert 3 <= dark <= 20


def test_strokes_are_drawn_as_lines() -> None:
    out = render_signature(
        [[(0.1, 0.5), (0.4, 0.5)], [(0.6, 0.2), (0.9, 0.8)], [(0.5, 0.9)]], line_width=3
    )
    im = shown(out)
    x = lambda f: round(f * 599)  # noqa: E731
    y = lambda f: round(f * 199)  # noqa: E731
    assert lum(im, (x(0.25), y(0.5))) < 64  # on the first stroke
    assert lum(im, (x(0.75), y(0.5))) < 128  # halfway along the second
    assert lum(im, (x(0.5), y(0.9))) < 64  # the dot
    assert lum(im, (x(0.5), y(0.5))) == 255  # between the strokes
    assert lum(im, (x(0.25), y(0.5) + 5)) == 255  # the line is thin
    greys = {v for v in im.tobytes() if 0 < v < 255}
    assert len(greys) > 10, "edges are anti-aliased"


def test_line_width_and_canvas_size_are_applied() -> None:
    def dark(out: PreparedImage) -> int:
        return sum(1 for v in shown(out).tobytes() if v < 128)

    line = [[(0.1, 0.5), (0.9, 0.5)]]
    assert dark(render_signature(line, line_width=6)) > 1.6 * dark(render_signature(line))
    small = render_signature(line, width=300, height=100)
    assert (small.width, small.height) == (300, 100) and shown(small).size == (300, 100)


def test_small_overshoot_is_clamped_onto_the_canvas() -> None:
    im = shown(render_signature([[(1.04, -0.03)], [(-0.05, 1.05)]]))
    assert lum(im, (599, 0)) < 128
    assert lum(im, (0, 199)) < 128


def test_signature_png_has_no_metadata_and_is_small() -> None:
    out = render_signature([[(i / 100, 0.5 + 0.3 * ((i % 10) / 10 - 0.5)) for i in range(100)]])
    assert png_chunk_types(out.data) == [b"IHDR", b"IDAT", b"IEND"]
    assert shown(out).info == {}
    assert out.size < 15_000
    assert out.sha256 == hashlib.sha256(out.data).hexdigest()


def test_signature_evidence_is_the_canonical_stroke_json() -> None:
    strokes = [[(0.25, 0.5), (1, 0)], [(0.5, 0.5)]]
    canonical = b"[[[0.25,0.5],[1.0,0.0]],[[0.5,0.5]]]"
    assert canonical_strokes(strokes) == canonical
    out = render_signature(strokes)
    assert out.original_sha256 == hashlib.sha256(canonical).hexdigest()
    assert json.loads(canonical) == [[[0.25, 0.5], [1.0, 0.0]], [[0.5, 0.5]]]
    # Lists or tuples, ints or floats: the same signature, the same evidence.
    same = render_signature([[[0.25, 0.5], [1.0, 0.0]], ((0.5, 0.5),)])  # type: ignore[list-item]
    assert same.original_sha256 == out.original_sha256
    # Clamping happens after the evidence is taken: the raw overshoot is kept.
    over = render_signature([[(1.04, 0.5)]])
    assert over.original_sha256 == hashlib.sha256(b"[[[1.04,0.5]]]").hexdigest()
    assert over.original_sha256 != render_signature([[(1.0, 0.5)]]).original_sha256


def test_the_same_signature_gives_the_same_bytes() -> None:
    rnd = random.Random(3)
    strokes = [[(rnd.random(), rnd.random()) for _ in range(50)] for _ in range(5)]
    a, b = render_signature(strokes), render_signature([list(s) for s in strokes])
    assert a == b
    assert a.data != render_signature(strokes[:4]).data


def test_limits_are_inclusive() -> None:
    render_signature([[(0.5, 0.5)] for _ in range(images.MAX_STROKES)])
    render_signature([[(i / 10_000, 0.5) for i in range(images.MAX_POINTS)]])


@pytest.mark.parametrize(
    ("strokes", "reason"),
    [
        pytest.param([], "empty", id="no-strokes"),
        pytest.param([[], []], "empty", id="empty-strokes"),
        pytest.param([[(0.5, 0.5)]] * 201, "too_many_strokes", id="201-strokes"),
        pytest.param([[(0.5, 0.5)] * 5000, [(0.5, 0.5)] * 5001], "too_many_points", id="10001"),
        pytest.param([[(0.5, float("nan"))]], "out_of_range", id="nan"),
        pytest.param([[(float("inf"), 0.5)]], "out_of_range", id="inf"),
        pytest.param([[(10**400, 0.5)]], "out_of_range", id="huge-int"),
        pytest.param([[(0.5, 0.5), (1.2, 0.5)]], "out_of_range", id="x-far-right"),
        pytest.param([[(0.5, -0.051)]], "out_of_range", id="y-above"),
        pytest.param([[(0.5, 0.5)], [(-3, 0.5)]], "out_of_range", id="second-stroke"),
        pytest.param([[(0.5,)]], "malformed", id="one-coordinate"),
        pytest.param([[(0.5, 0.5, 0.5)]], "malformed", id="three-coordinates"),
        pytest.param([[("0.5", 0.5)]], "malformed", id="string-coordinate"),
        pytest.param([[(True, 0.5)]], "malformed", id="bool-coordinate"),
        pytest.param([[None]], "malformed", id="none-point"),
        pytest.param([(0.5, 0.5)], "malformed", id="flat-list"),
        pytest.param("strokes", "malformed", id="string"),
        pytest.param(None, "malformed", id="none"),
    ],
)
def test_bad_signatures_are_refused(strokes: object, reason: str) -> None:
    with pytest.raises(SignatureRejected) as info:
        render_signature(strokes)  # type: ignore[arg-type]
    assert info.value.reason == reason
    assert isinstance(info.value, ImageRejected) and isinstance(info.value, ValueError)
    with pytest.raises(SignatureRejected):
        canonical_strokes(strokes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"width": 0}, {"height": 5000}, {"line_width": 0}, {"line_width": 51}]
)
def test_nonsense_canvas_is_a_programming_error(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError) as info:
        render_signature([[(0.5, 0.5)]], **kwargs)
    assert not isinstance(info.value, SignatureRejected)
