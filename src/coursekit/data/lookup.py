"""Resolve a dataset to a decoded cache: data dir -> mirror -> official source.

`fetch(name)` makes `<data dir>/<name>/decoded/` exist and be valid:

0. a valid decoded cache is used as it is (no checksums, no decoding);
1. the data directory: the official file, then the mirror files, if present.
   A file whose checksum is wrong is removed, and the lookup goes on;
2. the mirror: a folder is read in place (checked, never copied); from a URL,
   the files are downloaded into the data directory;
3. the official URL: downloaded into the data directory.
Whatever is found first is decoded once into the cache. A download that fails
its checksum raises `ChecksumError`; when every source fails,
`DatasetNotFoundError` lists what was tried and how to fix it.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from . import cache, formats, settings
from .download import (DownloadError, check_archive, check_file, check_members,
                       download_file)
from .errors import ChecksumError, DataError, DatasetNotFoundError
from .manifest import (Manifest, OfficialFile, OfficialSource, list_datasets, load_manifest,
                       manifests_dir)

__all__ = ["SourceFile", "data_dir", "mirror_location", "fetch", "locate", "status"]


def data_dir() -> Path:
    """The data directory: `$COURSEKIT_DATA_DIR`, else the config file's `data_dir`
    (:mod:`.settings`), else the user cache dir.

    Returns:
        e.g. ~/.cache/coursekit on Linux. The folder may not exist yet.
    """
    override = settings.setting("data_dir")
    return Path(override or platformdirs.user_cache_dir("coursekit")).expanduser()


def mirror_location() -> str | None:
    """The mirror: `$COURSEKIT_DATA_MIRROR`, else the config file's `mirror` (a folder
    or an http(s) URL), or None."""
    return settings.setting("mirror")


def fetch(
    name: str,
    *,
    manifest: Manifest | None = None,
    data_dir: Path | None = None,
    mirror: str | None = None,
) -> Path:
    """Make the decoded cache of a dataset exist, finding its files if needed.

    Args:
        name: dataset name, e.g. "cifar10".
        manifest: use this instead of `load_manifest(name)` (tests use it to
            point the official source at a local server).
        data_dir: data directory; default `data_dir()`.
        mirror: folder or URL; default `mirror_location()`.
    Returns:
        The decoded-cache folder, holding `<split>_images.npy` (uint8,
        (N, C, H, W)) and `<split>_labels.npy` (int64, (N,)) for each split.
    Raises:
        ChecksumError: a download did not match its checksum (it was deleted).
        DatasetNotFoundError: no source worked; the message says what to do.
        DataError: the manifest or a verified file is inconsistent.
    """
    manifest = resolve_manifest(name, manifest)
    root = _data_root(data_dir)
    folder = cache.cache_dir(root, manifest)
    if cache.check_cache(folder, manifest) is None:
        return folder
    found = _find_source(manifest, root, _mirror_or_default(mirror))
    arrays: dict[str, formats.Arrays] = {}
    for item in found.files:
        arrays.update(formats.decode(item.format, item.path, item.splits,
                                     select=found.select, **item.options))
    if found.kind == "official":
        _check_decoded(manifest, arrays, found)
    cache.write_cache(folder, manifest, arrays, found.origin())
    return folder


def locate(
    name: str,
    *,
    manifest: Manifest | None = None,
    data_dir: Path | None = None,
    mirror: str | None = None,
) -> tuple[str, list[SourceFile]]:
    """Find and verify a dataset's files without decoding them (for tables and text).

    Same search as `fetch`: data dir, mirror, official URL. Returns which kind of
    source was found ("mirror" or "official") and its files, each with the splits
    it holds and how to read it. Raises as `fetch` does.
    """
    manifest = resolve_manifest(name, manifest)
    found = _find_source(manifest, _data_root(data_dir), _mirror_or_default(mirror))
    return found.kind, found.files


def resolve_manifest(name: str, manifest: Manifest | None) -> Manifest:
    """`manifest` if given (its name must be `name`), else `load_manifest(name)`."""
    if manifest is None:
        return load_manifest(name)
    if manifest.name != name:
        raise DataError(
            f"Dataset {name!r} was asked for with the manifest of "
            f"{manifest.name!r}; pass a manifest with name={name!r}."
        )
    return manifest


def _data_root(folder: Path | str | None) -> Path:
    return Path(folder).expanduser() if folder is not None else data_dir()


def _mirror_or_default(mirror: str | None) -> str | None:
    return mirror_location() if mirror is None else (str(mirror).strip() or None)


# ---------------------------------------------------------------------------
# The lookup: each step returns a _Found or records why it failed in `tried`
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """A verified file of a dataset and how to read it."""

    path: Path
    splits: list[str]  # the splits it holds
    format: str  # a key of formats.DECODERS or formats.READERS
    options: dict[str, Any] = field(default_factory=dict)  # keywords for the reader


@dataclass
class _Found:
    kind: str  # "mirror" or "official": which files of the manifest these are
    where: str  # for people: "data dir /x", "mirror /y", "official URL"
    files: list[SourceFile] = field(default_factory=list)
    select: tuple[str, ...] = ()  # the classes to keep (official.select), empty: all
    downloaded: list[Path] = field(default_factory=list)  # by this lookup

    def origin(self) -> dict[str, str]:
        formats_ = ", ".join(dict.fromkeys(f.format for f in self.files))
        return {"kind": self.kind, "where": self.where, "format": formats_}


def _find_source(manifest: Manifest, root: Path, mirror: str | None) -> _Found:
    tried: list[str] = []
    for step in (_from_data_dir, _from_mirror, _from_official):
        found = step(manifest, root, mirror, tried)
        if found is not None:
            return found
    raise DatasetNotFoundError(_not_found_message(manifest, root, tried))


def _from_data_dir(
    manifest: Manifest, root: Path, mirror: str | None, tried: list[str]
) -> _Found | None:
    """Step 1: files already in the data dir; the official ones first (lossless)."""
    official = manifest.official
    if official is not None and _readable(official):
        results = [_verify(root / item.path, lambda p, i=item: _official_reason(i, p), tried,
                           "data dir", remove=True)
                   for item in official.files]  # a list: check (and report) every file
        if all(results):
            return _official_found(manifest, root, f"data dir {root}")
    if manifest.mirror is not None:
        paths = [root / f.path for f in manifest.mirror.files]
        if _verify_mirror_files(manifest, paths, tried, "data dir", remove=True):
            return _mirror_found(manifest, paths, f"data dir {root}")
    return None


def _from_mirror(
    manifest: Manifest, root: Path, mirror: str | None, tried: list[str]
) -> _Found | None:
    """Step 2: the mirror, a folder read in place or a URL downloaded from."""
    if manifest.mirror is None:
        tried.append("mirror: the manifest lists no mirror files")
        return None
    if mirror is None:
        tried.append("mirror: unset (COURSEKIT_DATA_MIRROR is not set)")
        return None
    if _is_url(mirror):
        return _from_mirror_url(manifest, root, mirror, tried)
    base = Path(mirror.removeprefix("file://")).expanduser()
    if not base.is_dir():
        tried.append(f"mirror {base}: path missing (no such folder)")
        return None
    paths = [base / f.path for f in manifest.mirror.files]
    if _verify_mirror_files(manifest, paths, tried, "mirror", remove=False):
        return _mirror_found(manifest, paths, f"mirror {base}")
    return None


def _from_mirror_url(
    manifest: Manifest, root: Path, url: str, tried: list[str]
) -> _Found | None:
    paths = []
    for item in manifest.mirror.files:
        dest, checksum = root / item.path, ("sha256", item.sha256)
        if dest.is_file():  # step 1 checked it (and removed it had it been wrong)
            paths.append(dest)
            continue
        try:
            download_file(
                _join_url(url, item.path), dest, checksum=checksum, num_bytes=item.bytes
            )
        except DownloadError as err:
            tried.append(f"mirror URL {err}")
            return None
        paths.append(dest)
    return _mirror_found(manifest, paths, f"mirror {url}")


def _from_official(
    manifest: Manifest, root: Path, mirror: str | None, tried: list[str]
) -> _Found | None:
    """Step 3: download the official files into the data dir (those not there yet)."""
    official = manifest.official
    if official is None:
        tried.append("official URL: none in the manifest (see its 'prepare' text)")
        return None
    if not _readable(official):
        tried.append(f"official URL {official.url}: not downloaded, coursekit cannot "
                     f"convert its format ({official.format}) yet")
        return None
    downloaded = []
    for item in official.files:
        dest = root / item.path
        if dest.is_file():  # step 1 checked it (and removed it had it been wrong)
            continue
        try:
            download_file(item.url, dest, checksum=item.checksum, num_bytes=item.bytes)
        except DownloadError as err:
            tried.append(f"official URL {err}")
            return None
        reason = (check_archive(dest) if item.checksum is None and not item.member_sha256
                  else check_members(dest, item.member_sha256))
        if reason is not None:
            dest.unlink(missing_ok=True)
            raise ChecksumError(
                f"{item.url} was downloaded but cannot be used: {reason}. The download "
                f"was deleted; try again, and if this persists the file at that URL is "
                f"not the one the manifest describes.")
        downloaded.append(dest)
    found = _official_found(manifest, root, f"official URL {official.url}")
    found.downloaded = downloaded
    return found


# ---------------------------------------------------------------------------
# Helpers of the lookup
# ---------------------------------------------------------------------------


def _verify(path: Path, reason: Callable[[Path], str | None], tried: list[str],
            label: str, *, remove: bool) -> bool:
    """True if `path` exists and `reason(path)` finds nothing wrong with it; else record
    why (and remove the file if asked)."""
    if not path.is_file():
        tried.append(f"{label} {path}: missing")
        return False
    wrong = reason(path)
    if wrong is None:
        return True
    if not remove:
        tried.append(f"{label} {path}: does not match ({wrong}); not used")
        return False
    try:
        path.unlink()
    except OSError as err:  # left in place, a later step would take it as checked
        raise ChecksumError(f"{label} {path} does not match ({wrong}) and cannot be "
                            f"removed ({err}); delete it and run again") from err
    tried.append(f"{label} {path}: does not match ({wrong}); removed")
    return False


def _verify_mirror_files(
    manifest: Manifest, paths: list[Path], tried: list[str], label: str, remove: bool
) -> bool:
    results = [  # a list, not all(...): check (and report) every file
        _verify(path, lambda p, i=item: check_file(p, ("sha256", i.sha256), i.bytes),
                tried, label, remove=remove)
        for path, item in zip(paths, manifest.mirror.files)
    ]
    return all(results)


def _mirror_found(manifest: Manifest, paths: list[Path], where: str) -> _Found:
    """Each mirror file with its splits; a file listed for several splits is read once."""
    splits: dict[Path, list[str]] = {}
    for path, item in zip(paths, manifest.mirror.files):
        splits.setdefault(path, []).append(item.split)
    return _Found("mirror", where, [SourceFile(path, names, manifest.mirror.format)
                                    for path, names in splits.items()])


def _official_found(manifest: Manifest, root: Path, where: str) -> _Found:
    official = manifest.official
    files = [SourceFile(root / item.path, list(item.splits or manifest.splits),
                        official.format_of(item), dict(item.options))
             for item in official.files]
    return _Found("official", where, files, official.select)


def _readable(official: OfficialSource) -> bool:
    return all(formats.can_read(official.format_of(item)) for item in official.files)


def _official_reason(item: OfficialFile, path: Path) -> str | None:
    """What is wrong with a present official file: its size, checksum or pinned members."""
    return check_file(path, item.checksum, item.bytes) or check_members(path, item.member_sha256)


def _check_decoded(manifest: Manifest, arrays: dict[str, formats.Arrays],
                   found: _Found) -> None:
    """Compare the decoded images with the manifest's pinned digests, for archives
    whose own checksum is not published; a mismatch deletes what was downloaded."""
    for split, expected in manifest.official.decoded_sha256.items():
        images = np.ascontiguousarray(arrays[split][0])
        actual = hashlib.sha256(images.tobytes()).hexdigest()
        if actual != expected:
            for path in found.downloaded:
                path.unlink(missing_ok=True)
            raise ChecksumError(
                f"{manifest.name}: the {split} images decoded from {found.where} have "
                f"sha256 {actual}, expected {expected}: these are not the files the "
                f"manifest pins{'; the download was deleted' if found.downloaded else ''}.")


def _is_url(location: str) -> bool:
    return urllib.parse.urlsplit(location).scheme in ("http", "https")


def _join_url(base: str, relative_path: str) -> str:
    return base.rstrip("/") + "/" + urllib.parse.quote(relative_path)


def _not_found_message(manifest: Manifest, root: Path, tried: list[str]) -> str:
    # dict.fromkeys: a file that two splits share (train and val in one .npz) once
    lines = [
        f"Dataset {manifest.name!r} ({manifest.title}) was not found. "
        f"Places tried, in order:",
        *(f"  - {line}" for line in dict.fromkeys(tried)),
        "To fix this, do one of:",
    ]
    if manifest.mirror is not None:
        needed = ", ".join(dict.fromkeys(f.path for f in manifest.mirror.files))
        lines.append(
            f"  - set COURSEKIT_DATA_MIRROR to a folder (or URL) holding {needed}"
            f"{_shared_data_hint(manifest)};"
        )
    if manifest.official is not None and _readable(manifest.official):
        for item in manifest.official.files:
            lines.append(f"  - put the official file {item.url} at {root / item.path};")
        lines.append(
            f"  - run `coursekit data fetch {manifest.name}` on a machine with internet, "
            f"then copy its data dir's {manifest.name}/ folder to {root / manifest.name}."
        )
    elif manifest.mirror is not None:  # nothing to download: the mirror's files are all
        lines.append(
            f"  - copy the files listed under 'mirror' in its manifest from a machine "
            f"that has them to {root}/ (keeping their paths)."
        )
    source = manifest.source_file or "its manifest"
    lines.append(f"More in the 'prepare' notes of {source}.")
    return "\n".join(lines)


def _shared_data_hint(manifest: Manifest) -> str:
    """Name the course's shared/data folder if it sits next to this repository."""
    shared = manifests_dir().parent.parent / "shared" / "data"
    if manifest.mirror.files and (shared / manifest.mirror.files[0].path).is_file():
        return f" (on this machine: export COURSEKIT_DATA_MIRROR={shared})"
    return ""


# ---------------------------------------------------------------------------
# status: where each dataset would be found, without downloading or decoding
# ---------------------------------------------------------------------------


def status(
    *, data_dir: Path | None = None, mirror: str | None = None
) -> list[dict[str, Any]]:
    """Where each dataset is, without downloading, hashing or decoding.

    Args:
        data_dir: data directory; default `data_dir()`.
        mirror: folder or URL; default `mirror_location()`.
    Returns:
        One dict per dataset of `list_datasets()`, with keys name, title,
        where ("decoded cache", "data dir", "mirror" or "missing"), path (str),
        detail (a sentence) and download (where `coursekit data fetch` would
        download it from when it is missing, and how large that is). Files are
        matched by size only; checksums are verified when the data is loaded. A
        mirror URL is not contacted.
    """
    root, mirror = _data_root(data_dir), _mirror_or_default(mirror)
    return [_status_of(load_manifest(name), root, mirror) for name in list_datasets()]


def _status_of(manifest: Manifest, root: Path, mirror: str | None) -> dict[str, Any]:
    folder = cache.cache_dir(root, manifest)
    if cache.check_cache(folder, manifest) is None:
        origin = (cache.read_stamp(folder) or {}).get("where")
        where, path, detail = "decoded cache", folder, f"decoded from {origin}"
    elif _present(manifest, root, "official") or _present(manifest, root, "mirror"):
        where, path, detail = "data dir", root / manifest.name, "decoded on first load"
    elif mirror is not None and _is_url(mirror) and manifest.mirror is not None:
        where, path, detail = "mirror", mirror, "a URL; not contacted by status"
    elif mirror is not None and _present(manifest, Path(mirror).expanduser(), "mirror"):
        where, path, detail = "mirror", Path(mirror).expanduser(), "read in place"
    else:
        where, path = "missing", root / manifest.name
        detail = f"run `coursekit data fetch {manifest.name}`"
    return {"name": manifest.name, "title": manifest.title, "where": where,
            "path": str(path), "detail": detail, "download": download_source(manifest)}


def download_source(manifest: Manifest) -> str:
    """Where the official files come from and their total size, in a few words:
    "cs231n.stanford.edu, 248.1 MB"; "none (copy the mirror's files)"."""
    official = manifest.official
    if official is None or not _readable(official):
        return "none (copy the mirror's files)"
    hosts = ", ".join(dict.fromkeys(urllib.parse.urlsplit(f.url).hostname or f.url
                                    for f in official.files))
    size = official.bytes
    return f"{hosts}, {size / 1e6:,.1f} MB" if size else f"{hosts}, size not published"


def _present(manifest: Manifest, base: Path, kind: str) -> bool:
    """True if the files of one source kind ("official" or "mirror") exist under
    `base` with the right sizes."""
    if kind == "official" and manifest.official is not None:
        items = [(f.path, f.bytes) for f in manifest.official.files]
    elif kind == "mirror" and manifest.mirror is not None:
        items = [(f.path, f.bytes) for f in manifest.mirror.files]
    else:
        return False
    return all(
        (base / path).is_file() and size in (None, (base / path).stat().st_size)
        for path, size in items
    )
