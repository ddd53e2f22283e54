"""Checksums and downloads: the only code in `coursekit.data` that touches bytes.

A download goes to `<file>.part`, is hashed while it streams, and is renamed to
`<file>` only when its size and checksum match the manifest. Anything else
deletes the `.part` file, so a half-written or wrong file is never used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from .errors import ChecksumError, DataError

__all__ = ["DownloadError", "check_archive", "check_file", "check_members", "download_file",
           "file_checksum"]

_CHUNK_BYTES = 1 << 20  # read and hash 1 MiB at a time
_TIMEOUT_S = 30  # per socket operation, not for the whole download
_PROGRESS_MIN_BYTES = 8 << 20  # show a progress bar for downloads above 8 MiB


class DownloadError(DataError):
    """A download failed on the network side (refused, HTTP error, cut short).

    `coursekit.data.fetch` records it and tries the next source.
    """


def file_checksum(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in 1 MiB chunks.

    Args:
        path: the file.
        algorithm: a `hashlib` name, e.g. "sha256" or "md5".
    Returns:
        The lowercase hex digest.
    """
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()


def check_file(path: Path, checksum: tuple[str, str] | None,
               num_bytes: int | None) -> str | None:
    """Compare a file with its expected size and checksum.

    Args:
        path: the file, which must exist.
        checksum: (algorithm, expected hex digest), or None where none is known.
        num_bytes: expected size in bytes, or None where it is not known.
    Returns:
        None if the file matches, else a one-line reason, e.g.
        "size 12 bytes, expected 34" or "md5 ab12..., expected cd34...".
    """
    size = path.stat().st_size
    if num_bytes is not None and size != num_bytes:  # cheap test first
        return f"size {size} bytes, expected {num_bytes}"
    if checksum is None:
        return None
    algorithm, expected = checksum
    actual = file_checksum(path, algorithm)
    if actual != expected.lower():
        return f"{algorithm} {actual}, expected {expected}"
    return None


def check_members(path: Path, members: dict[str, str]) -> str | None:
    """Compare members of a zip or tar archive with their pinned sha256.

    Used for archives whose own checksum is not published: their content is
    checked instead. Returns None if every member is there and matches, else a
    one-line reason ("not a readable archive", "data/a.txt: missing", ...).
    """
    if not members:
        return None
    try:
        digests = _member_digests(path, set(members))
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        return f"not a readable archive ({type(err).__name__}: {err})"
    for name, expected in members.items():
        if name not in digests:
            return f"{name}: missing from the archive"
        if digests[name] != expected.lower():
            return f"{name}: sha256 {digests[name]}, expected {expected}"
    return None


def check_archive(path: Path) -> str | None:
    """For a file that has no checksum: None if it is a complete zip (every member's
    CRC checked) or tar, or not an archive at all; else a one-line reason."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
            return f"member {bad} is damaged" if bad else None
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                for _ in archive:
                    pass
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        return f"not a complete archive ({type(err).__name__}: {err})"
    return None


def _member_digests(path: Path, wanted: set[str]) -> dict[str, str]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:  # reading checks each member's CRC
            names = set(archive.namelist()) & wanted
            return {n: hashlib.sha256(archive.read(n)).hexdigest() for n in names}
    with tarfile.open(path) as archive:
        found = {}
        for member in archive:
            if member.name in wanted and member.isfile():
                found[member.name] = hashlib.sha256(archive.extractfile(member).read()).hexdigest()
        return found


def download_file(
    url: str, dest: Path, *, checksum: tuple[str, str] | None, num_bytes: int | None
) -> Path:
    """Download `url` to `dest` through `dest.part`, verifying size and checksum.

    A `.part` file left by an earlier run is deleted first: it is never resumed.

    Args:
        url: http(s) URL of the file.
        dest: final path; its folder is created if needed.
        checksum: (algorithm, expected hex digest), e.g. ("md5", "c58f..."); None
            where none is published (the caller then checks what the file holds).
        num_bytes: expected size in bytes, or None (then the server's
            Content-Length decides whether the download is complete).
    Returns:
        `dest`, complete and verified.
    Raises:
        DownloadError: on a network failure (connection refused, HTTP error,
            connection closed before Content-Length bytes); nothing is kept.
        ChecksumError: if the bytes received do not match; nothing is kept.
    """
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part.unlink(missing_ok=True)
    algorithm, expected = checksum or ("sha256", "")
    try:
        received, actual = _stream_to(url, part, algorithm, num_bytes or 0)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if (num_bytes is not None and received != num_bytes) or (
            checksum is not None and actual != expected.lower()):
        part.unlink(missing_ok=True)
        wanted = [f"{algorithm} {expected}"] * (checksum is not None) + [
            f"{num_bytes} bytes"] * (num_bytes is not None)
        got = [f"{algorithm} {actual}"] * (checksum is not None) + [f"{received} bytes"]
        raise ChecksumError(
            f"{dest.name} downloaded from {url} does not match: expected "
            f"{', '.join(wanted)}; got {', '.join(got)}. The "
            f"download was deleted. Try again; if this persists, the file at that URL "
            f"is not the one the manifest describes."
        )
    os.replace(part, dest)  # atomic: `dest` is either absent or complete
    return dest


def _stream_to(url: str, part: Path, algorithm: str, num_bytes: int) -> tuple[int, str]:
    """Write the body of `url` to `part`; return (bytes received, hex digest)."""
    hasher = hashlib.new(algorithm)
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            announced = response.headers.get("Content-Length")
            with open(part, "wb") as f, _progress(num_bytes, url) as bar:
                while chunk := response.read(_CHUNK_BYTES):
                    f.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as err:  # URLError is an OSError
        raise DownloadError(f"{url}: {_describe(err)}") from err
    # http.client returns b"" when the server closes early, without an error.
    if announced is not None and received < int(announced):
        raise DownloadError(
            f"{url}: connection closed after {received} of {announced} bytes"
        )
    return received, hasher.hexdigest()


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"cannot connect ({err.reason})"
    return f"{type(err).__name__}: {err}"


def _progress(num_bytes: int, url: str):  # noqa: ANN202 (a tqdm or a stand-in)
    """A tqdm bar for big downloads, a do-nothing stand-in for small ones."""
    if num_bytes < _PROGRESS_MIN_BYTES:
        return _NoProgress()
    from tqdm.auto import tqdm  # imported here: tqdm is only needed for this

    name = url.rsplit("/", 1)[-1]
    return tqdm(total=num_bytes, unit="B", unit_scale=True, desc=f"download {name}")


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, num: int) -> None:
        return None
