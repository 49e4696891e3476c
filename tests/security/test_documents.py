"""Uploads and downloads as an attacker tries them (issue 8, findings 4, 5 and 10): crafted files
made here (decompression bombs, polyglots, PDFs with script), parameters that used to give a
500 and leave an orphan file, and file names that broke ``Content-Disposition``."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import select

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.documents import content
from cloud.documents.models import Document
from cloud.documents.storage import DocumentStore
from cloud.tenancy.service import create_tenant
from tests.security.conftest import SecurityApi, png_bytes, sha256

# -- crafted files -----------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and carries almost no data: what a
    decompression bomb looks like to anyone who reads only the header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def jpeg_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


def png_with_text(text: str) -> bytes:
    info = PngInfo()
    info.add_text("Comment", text)
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def png_with_markup_in_pixels() -> bytes:
    """A sound 64x64 PNG whose IDAT holds ``<html><script>`` verbatim, well past the first KB:
    the pixel rows are deflated as stored (uncompressed) blocks, so the bytes of row 40 are
    the file's bytes. Compressed pixel data of real photos hits such patterns by chance."""
    width = 64
    rows = [bytearray(b"\x00" + bytes(range(3 * width))) for _ in range(64)]
    rows[40][1:15] = b"<html><script>"
    raw = b"".join(rows)
    ihdr = struct.pack(">IIBBBBB", width, 64, 8, 2, 0, 0, 0)
    idat = zlib.compress(raw, level=0)
    data = (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )
    assert data.find(b"<html><script>") > 1024
    with Image.open(io.BytesIO(data)) as im:  # a real image: it decodes
        assert im.convert("RGB").getpixel((0, 40)) == tuple(b"<ht")
    return data


def jpeg_with_markup_in_pixels(*, progressive: bool) -> bytes:
    """A noisy 96x96 JPEG (baseline or progressive) with ``<html`` written over entropy-coded
    data of its last scan, past the first KB: still a JPEG that decodes (to other pixels)."""
    noise = Image.frombytes("RGB", (96, 96), random.Random(8).randbytes(96 * 96 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95, progressive=progressive)
    data = bytearray(out.getvalue())
    last_scan = data.rfind(b"\xff\xda")
    at = (last_scan + data.rfind(b"\xff\xd9")) // 2  # within its entropy-coded data
    while b"\xff" in data[at - 1 : at + 6]:  # keep clear of stuffed bytes and markers
        at += 1
    assert 1024 < at < data.rfind(b"\xff\xd9") - 8
    data[at : at + 5] = b"<html"
    with Image.open(io.BytesIO(bytes(data))) as im:
        im.load()
    return bytes(data)


def jpeg_with_comment(comment: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, "JPEG", comment=comment)
    assert comment in out.getvalue()
    return out.getvalue()


def png_with_compressed_text(text: str, *, itxt: bool) -> bytes:
    info = PngInfo()
    if itxt:
        info.add_itxt("Comment", text, lang="en", tkey="Kommentar", zip=True)
    else:
        info.add_text("Comment", text, zip=True)
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG", pnginfo=info)
    assert text.encode() not in out.getvalue()  # compressed: a plain byte scan misses it
    return out.getvalue()


HTML = b"<html><body><script>fetch('/api/v1/orders')</script></body></html>"
PDF_OK = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

REJECTED = {
    "20000x20000 png header": (png_header_only(20_000, 20_000), "image/png"),
    "7000x7000 png header (49 MP)": (png_header_only(7_000, 7_000), "image/png"),
    "13000x10 png header (one side)": (png_header_only(13_000, 10), "image/png"),
    "jpeg + html polyglot": (jpeg_bytes() + HTML, "image/jpeg"),
    "png + html polyglot": (png_bytes() + HTML, "image/png"),
    "png + trailing garbage": (png_bytes() + b"\x01\x02garbage", "image/png"),
    "png with script in a text chunk": (png_with_text("<script>alert(1)</script>"), "image/png"),
    "jpeg with script in a COM segment": (jpeg_with_comment(b"<script>x</script>"), "image/jpeg"),
    "png with script in a zTXt chunk": (
        png_with_compressed_text("<svg onload=alert(1)>" * 50, itxt=False),
        "image/png",
    ),
    "png with script in a compressed iTXt chunk": (
        png_with_compressed_text("<SCRIPT>alert(1)</SCRIPT>" * 50, itxt=True),
        "image/png",
    ),
    "png with a zTXt bomb": (png_with_compressed_text("a" * (2 << 20), itxt=False), "image/png"),
    "jpeg claimed as png": (jpeg_bytes(), "image/png"),
    "truncated png": (png_bytes()[:30], "image/png"),
    "html claimed as jpeg": (b"\xff\xd8\xff" + HTML, "image/jpeg"),
    "svg": (b"<svg xmlns='http://www.w3.org/2000/svg'><script>x</script></svg>", "image/svg+xml"),
    "html": (HTML, "text/html"),
    "pdf without %%EOF": (b"%PDF-1.4\n1 0 obj << >> endobj\n", "application/pdf"),
    "pdf with javascript": (
        b"%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> "
        b"endobj\n%%EOF\n",
        "application/pdf",
    ),
    "pdf + html": (PDF_OK.replace(b"endobj", b"endobj " + HTML), "application/pdf"),
    "latin-1 text": ("café".encode("latin-1"), "text/plain"),
    "empty": (b"", "text/plain"),
}
ACCEPTED = {
    "png": (png_bytes((40, 30)), "image/png"),
    "jpeg": (jpeg_bytes((64, 48)), "image/jpeg"),
    "png with <html> in its pixel data": (png_with_markup_in_pixels(), "image/png"),
    "jpeg with <html in its entropy-coded data": (
        jpeg_with_markup_in_pixels(progressive=False),
        "image/jpeg",
    ),
    "progressive jpeg with <html in its entropy-coded data": (
        jpeg_with_markup_in_pixels(progressive=True),
        "image/jpeg",
    ),
    "jpeg with a harmless comment": (jpeg_with_comment(b"Truck 12, Ede"), "image/jpeg"),
    "pdf": (PDF_OK, "application/pdf"),
    "utf-8 text": ("Weegbon: 18 240 kg — café".encode(), "text/plain"),
}


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(REJECTED))
def test_content_checks_refuse_crafted_files(name: str) -> None:
    data, content_type = REJECTED[name]
    with pytest.raises(content.DocumentRejected) as exc:
        content.check_content(data, content_type)
    assert exc.value.status_code == 422


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_content_checks_accept_sound_files(name: str) -> None:
    content.check_content(*ACCEPTED[name])


@pytest.mark.unit
@pytest.mark.parametrize(
    "filename",
    ["", "x" * 121, "a\r\nb.png", "a\x00.png", "../etc/passwd", "a\\b.png", "..", "\u202egnp.exe"],
)
def test_file_names_that_could_break_headers_or_paths_are_refused(filename: str) -> None:
    with pytest.raises(content.FilenameInvalid):
        content.check_filename(filename)


@pytest.mark.unit
def test_unicode_file_names_are_fine() -> None:
    assert content.check_filename("Ω foto 日本.png") == "Ω foto 日本.png"


# -- device uploads against the real API --------------------------------------------------------


def _files(api: SecurityApi) -> set[str]:
    root = api.data_dir / "documents"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _device_put(
    api: SecurityApi, data: bytes, content_type: str, **query: str
) -> tuple[int, dict[str, object]]:
    with api.client() as c:
        r = c.put(
            f"/api/v1/device/documents/{query.pop('sha256', sha256(data))}",
            params=query,
            content=data,
            headers={"Content-Type": content_type},
            auth=api.a.basic(),
        )
    return r.status_code, r.json()


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.parametrize(
    "query",
    [
        {"original_sha256": "a" * 5000},  # the probe's request: a 500 and an orphan file
        {"original_sha256": "z" * 64},
        {"filename": "x" * 5000},
        {"filename": "a\r\nContent-Type: text/html"},
        {"filename": "../../documents/evil.png"},
        {"kind": "executable"},
        {"kind": "p" * 5000},
        {"sha256": "g" * 64},
        {"sha256": "a" * 5000},
    ],
    ids=lambda q: next(iter(q)) + ":" + next(iter(q.values()))[:12],
)
def test_bad_upload_parameters_are_refused_and_store_nothing(
    security_api: SecurityApi, query: dict[str, str]
) -> None:
    data = png_bytes((7, 7))
    before = _files(security_api)
    status, body = _device_put(security_api, data, "image/png", **query)
    assert 400 <= status < 500 and set(body) == {"error", "detail"}, (status, body)
    assert _files(security_api) == before, "a refused upload left a file behind"


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(REJECTED))
def test_crafted_files_are_refused_by_the_device_upload(
    security_api: SecurityApi, name: str
) -> None:
    data, content_type = REJECTED[name]
    before = _files(security_api)
    status, body = _device_put(security_api, data, content_type)
    assert status in (413, 422), (status, body)
    assert set(body) == {"error", "detail"}
    assert _files(security_api) == before


@pytest.mark.integration
@pytest.mark.e2e
def test_crafted_files_are_refused_by_the_office_upload(security_api: SecurityApi) -> None:
    a = security_api.a
    before = _files(security_api)
    with security_api.client() as c:
        for name, (data, content_type) in REJECTED.items():
            r = c.post(
                f"/api/v1/orders/{a.order_id}/documents",
                files={"file": ("x.bin", data, content_type)},
                headers=a.bearer("planner"),
            )
            assert r.status_code in (413, 422), (name, r.text)
        r = c.post(
            f"/api/v1/orders/{a.order_id}/documents",
            files={"file": ("x" * 121 + ".png", png_bytes(), "image/png")},
            headers=a.bearer("planner"),
        )
        assert r.status_code == 422 and r.json()["error"] == "FilenameInvalid", r.text
    assert _files(security_api) == before


@pytest.mark.integration
@pytest.mark.e2e
def test_a_sound_upload_is_stored_and_served_as_checked(security_api: SecurityApi) -> None:
    a = security_api.a
    data = jpeg_bytes((33, 21))
    status, body = _device_put(security_api, data, "image/jpeg; charset=x", filename="foto.jpg")
    assert status == 200, body
    assert body["content_type"] == "image/jpeg" and body["stored"] is True
    assert sha256(data) in _files(security_api)
    with security_api.client() as c:
        r = c.get(f"/api/v1/documents/{body['id']}/content", headers=a.bearer("owner"))
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-content-type-options"] == "nosniff"


# -- downloads with unusual names (finding 5) ----------------------------------------------------

NAMES = [
    "Ω-φωτο 日本.png",  # outside latin-1: was a 500
    'quote".png',  # a quote ended the header's quoted string
    "line\r\nSet-Cookie: stolen=1.png",  # CR/LF split the header
    "../../etc/passwd",
    "tab\tand\x7fdel.png",
    ";filename=evil.exe",
]


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.parametrize("filename", NAMES)
def test_downloads_with_unusual_names(security_api: SecurityApi, filename: str) -> None:
    """Rows stored before uploads checked names (or by other paths) must download safely."""
    a = security_api.a
    data = f"document named {filename!r}".encode()
    store = DocumentStore(security_api.data_dir / "documents")
    with transaction(security_api.factory) as s:
        doc = Document(
            tenant_id=a.tenant_id,
            order_id=a.order_id,
            kind="other",
            filename=filename,
            content_type="text/html",  # never served as such: not a checked type
            size=len(data),
            sha256=store.put(data),
            stored=True,
        )
        s.add(doc)
        s.flush()
        doc_id = doc.id
    with security_api.client() as c:
        r = c.get(f"/api/v1/documents/{doc_id}/content", headers=a.bearer("owner"))
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-type"] == "application/octet-stream"
    assert "set-cookie" not in r.headers
    disposition = r.headers["content-disposition"]
    assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback and not set(fallback) & set('"/\\;\r\n\t\x7f')
    assert disposition.startswith("attachment; ")
    from urllib.parse import unquote

    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == filename


# -- nothing is kept when the transaction fails --------------------------------------------------


@pytest.mark.integration
def test_a_new_file_is_removed_when_the_transaction_rolls_back(db_url: str, tmp_path: Path) -> None:
    from cloud.documents.service import _store_after_flush

    engine = make_engine(db_url, pool_size=1)
    factory = make_sessionmaker(engine)
    store = DocumentStore(tmp_path / "documents")
    shared = b"already stored for another row"
    store.put(shared)
    new = b"stored by this request only"
    with factory() as s:
        s.execute(select(1))  # a transaction is open, as in a request
        _store_after_flush(store, s, new)
        _store_after_flush(store, s, shared)
        assert store.exists(sha256(new))
        s.rollback()
    assert not store.exists(sha256(new)), "the new file outlived its rolled-back row"
    assert store.exists(sha256(shared)), "a file other rows use was deleted"
    with factory() as s:
        s.execute(select(1))
        _store_after_flush(store, s, new)
        s.commit()
    assert store.exists(sha256(new))
    # Same bytes, committed by another tenant's request while this one ran: the file stays.
    theirs = b"uploaded by two tenants at once"
    with transaction(factory) as s:
        tenant = create_tenant(s, slug="other", name="Other B.V.")
        s.add(
            Document(
                tenant_id=tenant.id,
                kind="photo",
                filename="x.txt",
                content_type="text/plain",
                size=len(theirs),
                sha256=sha256(theirs),
                stored=True,
            )
        )
    with factory() as s:
        s.execute(select(1))
        _store_after_flush(store, s, theirs)
        s.rollback()
    assert store.exists(sha256(theirs)), "a file another tenant's row uses was deleted"
    engine.dispose()
