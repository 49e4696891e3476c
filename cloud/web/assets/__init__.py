"""The browser libraries of the web pages: pinned in ``package.json`` / ``package-lock.json``
beside this file, fetched from the npm registry by npm itself, checked here against the lock,
and copied into ``cloud/web/static/vendor/`` (not in the repository; ``make setup`` runs
``python -m cloud.web.assets install``).

How a file gets in:

1. ``npm pack NAME@VERSION`` (the version from the lock, scripts off) puts the package's
   tarball in the cache directory, ``var/cache/web-assets/`` unless told otherwise. A tarball
   already there is reused, so a second install needs no network.
2. The tarball's sha512 must equal the lock's ``integrity``; otherwise the install stops and
   the tarball is deleted. This is our own check, independent of npm's.
3. Only the files named in ``FILES`` are taken out of the tarball (never paths that climb out),
   written to ``vendor/`` with a temporary name and moved into place.

At run time ``missing()`` lists vendor files that are not there; ``cloud.web.install`` refuses
to start in production when any is missing (elsewhere it logs a warning)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK = HERE / "package-lock.json"
VENDOR = HERE.parent / "static" / "vendor"
DEFAULT_CACHE = HERE.parents[2] / "var" / "cache" / "web-assets"


@dataclass(frozen=True)
class VendorFile:
    package: str
    member: str
    """Path inside the tarball (npm tarballs put everything under ``package/``)."""
    target: str
    """File name under ``static/vendor/`` (served at ``/assets/vendor/<target>``)."""


FILES: tuple[VendorFile, ...] = (
    VendorFile("htmx.org", "package/dist/htmx.min.js", "htmx.min.js"),
    VendorFile("htmx.org", "package/LICENSE", "htmx.LICENSE.txt"),
)


class AssetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    integrity: str


def locked(lock_path: Path = LOCK) -> dict[str, Locked]:
    """The packages the lock pins, by name."""
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    out = {}
    for key, entry in lock.get("packages", {}).items():
        if not key.startswith("node_modules/"):
            continue
        name = key.removeprefix("node_modules/")
        integrity = entry.get("integrity", "")
        if not integrity.startswith("sha512-"):
            raise AssetError(f"{name}: the lock has no sha512 integrity")
        out[name] = Locked(name=name, version=entry["version"], integrity=integrity)
    return out


def sri_sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def fetch(pkg: Locked, cache: Path) -> Path:
    """The package's tarball in ``cache``, checked against the lock's integrity."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{pkg.name.replace('/', '-').lstrip('@')}-{pkg.version}.tgz"
    if not tarball.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise AssetError("npm is not installed (apt-get install npm)")
        result = subprocess.run(
            [
                npm,
                "pack",
                f"{pkg.name}@{pkg.version}",
                "--ignore-scripts",
                "--silent",
                "--pack-destination",
                str(cache),
            ],
            cwd=cache,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not tarball.exists():
            raise AssetError(f"npm pack {pkg.name}@{pkg.version} failed: {result.stderr.strip()}")
    actual = sri_sha512(tarball)
    if actual != pkg.integrity:
        tarball.unlink()
        raise AssetError(
            f"{pkg.name}@{pkg.version}: tarball sha512 {actual} does not match the lock's "
            f"{pkg.integrity}; deleted it"
        )
    return tarball


def extract(tarball: Path, member: str, target: Path) -> None:
    with tarfile.open(tarball, "r:gz") as tar:
        info = tar.getmember(member)  # an exact name: nothing outside the list is read
        if not info.isfile():
            raise AssetError(f"{tarball.name}: {member} is not a regular file")
        source = tar.extractfile(info)
        assert source is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with partial.open("wb") as out:
            shutil.copyfileobj(source, out)
        os.replace(partial, target)


def install(*, cache: Path = DEFAULT_CACHE, vendor: Path = VENDOR) -> list[Path]:
    """Fetch, check and copy every file of ``FILES``; returns the files written."""
    pins = locked()
    written = []
    tarballs: dict[str, Path] = {}
    for f in FILES:
        pkg = pins.get(f.package)
        if pkg is None:
            raise AssetError(f"{f.package} is not in {LOCK.name}")
        if f.package not in tarballs:
            tarballs[f.package] = fetch(pkg, cache)
        target = vendor / f.target
        extract(tarballs[f.package], f.member, target)
        written.append(target)
    return written


def missing(vendor: Path = VENDOR) -> list[str]:
    """Vendor files the pages need that are not installed."""
    return [f.target for f in FILES if not (vendor / f.target).is_file()]
