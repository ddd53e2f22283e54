"""The decoded cache: arrays as .npy files, so decoding happens once.

Layout, for dataset `name` in data dir `root`:

    root/name/decoded/train_images.npy   uint8 (N, C, H, W)
    root/name/decoded/train_labels.npy   int64 (N,)
    root/name/decoded/...                one pair per split
    root/name/decoded/stamp.json         which source files (and checksums) made them

Every file is written to a temporary name and moved into place with
`os.replace`, and the stamp is written last, so a crash never leaves a cache
that looks valid. A cache is used only if its stamp matches the manifest and
every array has the expected shape and dtype; otherwise it is rebuilt.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np

from coursekit._atomic import write_atomic

from .errors import DataError
from .formats import Arrays
from .manifest import Manifest, OfficialFile

__all__ = [
    "cache_dir",
    "check_cache",
    "load_arrays",
    "read_stamp",
    "source_ids",
    "write_cache",
]

STAMP = "stamp.json"


def cache_dir(root: Path, manifest: Manifest) -> Path:
    """Folder of the decoded arrays of `manifest` in data dir `root`."""
    return root / manifest.name / "decoded"


def source_ids(manifest: Manifest) -> dict[str, dict[str, str]]:
    """The source identities a valid cache may come from, by source kind.

    Returns:
        {"mirror": {path: "sha256:<hex>", ...}, "official": {path: "md5:<hex>"}},
        with only the kinds the manifest has; "official" also holds "select" (the
        class ids kept, comma-separated) when the manifest keeps only some.
    """
    ids = {}
    if manifest.mirror is not None:
        ids["mirror"] = {f.path: f"sha256:{f.sha256}" for f in manifest.mirror.files}
    if manifest.official is not None:
        ids["official"] = {f.path: _file_id(f) for f in manifest.official.files}
        if manifest.official.select:  # other classes kept: another cache
            ids["official"]["select"] = ",".join(manifest.official.select)
    return ids


def _file_id(item: OfficialFile) -> str:
    """"md5:<hex>", or the pinned members' digests, or "unverified" (then only the
    examples per split are checked)."""
    if item.checksum is not None:
        return ":".join(item.checksum)
    if item.member_sha256:
        return "members:" + ",".join(f"{k}={v}" for k, v in sorted(item.member_sha256.items()))
    return "unverified"


def read_stamp(folder: Path) -> dict[str, Any] | None:
    """The stamp of a decoded cache, or None if absent or unreadable."""
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def check_cache(folder: Path, manifest: Manifest) -> str | None:
    """Check a decoded cache without reading its arrays (headers only).

    Returns:
        None if the cache can be used, else why not, e.g.
        "train_images.npy: shape (10, 3, 32, 32), expected (50000, 3, 32, 32)".
    """
    stamp = read_stamp(folder)
    if stamp is None:
        return f"no decoded cache in {folder}"
    if stamp.get("files") not in source_ids(manifest).values():
        return "decoded cache was made from other files than the manifest lists"
    for split, num in manifest.splits.items():
        for kind, shape, dtype in _expected_arrays(manifest, num):
            reason = _check_npy(folder / f"{split}_{kind}.npy", shape, dtype)
            if reason:
                return reason
    return None


def _expected_arrays(manifest: Manifest, num: int) -> list[tuple[str, tuple, type]]:
    image_shape = manifest.image_shape
    return [
        ("images", (num, *image_shape) if image_shape else None, np.uint8),
        ("labels", (num,), np.int64),
    ]


def _check_npy(path: Path, shape: tuple | None, dtype: type) -> str | None:
    """Read only the header and check that the data fits in the file."""
    try:
        # mmap_mode: no data is read; a truncated file fails to map.
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as err:
        return f"{path.name}: unreadable ({type(err).__name__}: {err})"
    found_shape, found_dtype = array.shape, array.dtype
    del array  # unmap now
    if found_dtype != dtype or (shape is not None and found_shape != shape):
        return (
            f"{path.name}: {found_dtype} {found_shape}, expected "
            f"{np.dtype(dtype)} {shape if shape is not None else '(N, ...)'}"
        )
    return None


def load_arrays(folder: Path, split: str) -> Arrays:
    """Load (images, labels) of one split from a checked decoded cache.

    Raises:
        DataError: if a file cannot be read (delete the folder to rebuild it).
    """
    try:
        images = np.load(folder / f"{split}_images.npy")
        labels = np.load(folder / f"{split}_labels.npy")
    except (OSError, ValueError, EOFError) as err:
        raise DataError(
            f"Decoded cache {folder} cannot be read ({err}); delete the folder "
            f"and load again to rebuild it."
        ) from err
    return images, labels


def write_cache(
    folder: Path, manifest: Manifest, arrays: dict[str, Arrays], origin: dict
) -> None:
    """Check `arrays` against the manifest, then write them and the stamp.

    Args:
        folder: the decoded-cache folder (created if needed).
        manifest: gives the expected splits, counts, image shape and classes.
        arrays: {split: (images uint8 (N, C, H, W), labels int64 (N,))}.
        origin: {"kind": "mirror" or "official", "where": str, "format": str},
            recorded in the stamp with the checksums of that kind's files.
    Raises:
        DataError: if the arrays do not match the manifest (nothing is written).
    """
    _check_arrays(manifest, arrays, origin)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP).unlink(missing_ok=True)  # invalid while being rewritten
    for split, (images, labels) in arrays.items():
        write_atomic(folder / f"{split}_images.npy", lambda f: np.save(f, images))
        write_atomic(folder / f"{split}_labels.npy", lambda f: np.save(f, labels))
    stamp = {
        "dataset": manifest.name,
        "source": origin["kind"],
        "where": origin["where"],
        "format": origin["format"],
        "files": source_ids(manifest)[origin["kind"]],
        "shapes": {s: list(images.shape) for s, (images, _) in arrays.items()},
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    text = json.dumps(stamp, indent=2).encode()
    write_atomic(folder / STAMP, lambda f: f.write(text))


def _check_arrays(manifest: Manifest, arrays: dict[str, Arrays], origin: dict) -> None:
    where = f"{manifest.name} from {origin['where']}"
    if set(arrays) != set(manifest.splits):
        raise DataError(
            f"{where} gave splits {sorted(arrays)}, but the manifest lists "
            f"{sorted(manifest.splits)}; fix the manifest's splits or files."
        )
    for split, (images, labels) in arrays.items():
        num = manifest.splits[split]
        _check_shapes(manifest, num, images, labels, f"{where}: {split}")
        _check_labels(manifest, labels, f"{where}: {split}")


def _check_shapes(
    manifest: Manifest, num: int, images: np.ndarray, labels: np.ndarray, where: str
) -> None:
    expected = (num, *(manifest.image_shape or images.shape[1:]))
    if images.shape != expected or labels.shape != (num,):
        raise DataError(
            f"{where} has images {images.shape} and labels {labels.shape}; the "
            f"manifest says {expected} (N, C, H, W) and ({num},). Fix the "
            f"manifest's splits/image_shape, or the source file."
        )


def _check_labels(manifest: Manifest, labels: np.ndarray, where: str) -> None:
    num_classes = len(manifest.classes)
    if not num_classes or not len(labels):
        return
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(
            f"{where} labels span {labels.min()}..{labels.max()}, expected "
            f"0..{num_classes - 1} for the manifest's {num_classes} classes."
        )
