"""File formats: turn a verified source file into uint8 image arrays or tables.

Each image format is one function `decode(path, splits) -> {split: (images, labels)}`
with images a uint8 array (N, C, H, W) RGB and labels an int64 array (N,); each
table format one function `read(path, splits) -> {split: DataFrame}`.
A manifest names its format (`mirror.format`, `official.format`); adding a
dataset in a known format therefore needs only a manifest file.

- `jpeg_npz`: the course mirror. One .npz per split with keys `jpeg` (all JPEG
  files concatenated), `offsets` (N+1; image i is jpeg[offsets[i]:offsets[i+1]])
  and `y` (N labels). Used by CIFAR-10 and the Tiny ImageNet subset.
- `image_npz`: decoded arrays in one .npz, keys `x_<split>` (N, H, W) grayscale or
  (N, H, W, C) and `y_<split>` (N,). Used by the Gurmukhi digits.
- `cifar_python_tarball`: the official CIFAR-10 "python version" tar.gz.
- `csv_gz` (a table): one gzipped CSV per split, with a header row.
- `text_lines` (a table): a UTF-8 text file (gzipped if its name ends in .gz), one
  example per line, read as a DataFrame with one column, "text".
- `glove_txt_gz` (a table): gzipped GloVe text, a word and its vector per line; read
  as a DataFrame indexed by word, one column per dimension.

A manifest may name a format that has no function here yet (the official Tiny
ImageNet zip, the aclImdb tarball): `can_read` is False for it, and the lookup
neither downloads such a file nor uses a copy of it.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DataError

__all__ = ["Arrays", "DECODERS", "READERS", "can_read", "decode", "decode_cifar_tarball",
           "decode_image_npz", "decode_jpeg_npz", "read_csv_gz", "read_glove_txt_gz", "read_text_lines"]

Arrays = tuple[np.ndarray, np.ndarray]  # images (N, C, H, W) uint8, labels (N,) int64

_DECODE_CHUNK = 2048  # images per thread-pool task


def decode(format_name: str, path: Path, splits: Sequence[str]) -> dict[str, Arrays]:
    """Decode `path`, a file in format `format_name`, into arrays for `splits`.

    Args:
        format_name: a key of `DECODERS`, as written in a manifest.
        path: the verified source file.
        splits: the splits this file holds, e.g. ["train"] or ["train", "test"].
    Returns:
        {split: (images uint8 (N, C, H, W), labels int64 (N,))}.
    Raises:
        DataError: for an unknown format or a file that does not fit it.
    """
    if format_name not in DECODERS:
        raise DataError(
            f"Unknown data format {format_name!r} for {path.name}; known formats: "
            f"{sorted(DECODERS)}. Fix the manifest, or add a decoder to "
            f"coursekit/data/formats.py."
        )
    return DECODERS[format_name](path, splits)


# ---------------------------------------------------------------------------
# jpeg_npz: JPEG bytes packed in an .npz (the course mirror)
# ---------------------------------------------------------------------------


def decode_jpeg_npz(path: Path, splits: Sequence[str]) -> dict[str, Arrays]:
    """Decode every JPEG of a packed .npz (one split per file) with PIL.

    Greyscale JPEGs are converted to RGB. Decoding runs on a small thread pool
    (PIL releases the GIL while decoding): about 3 s for CIFAR-10's 50,000.
    """
    if len(splits) != 1:
        raise DataError(f"{path.name}: a jpeg_npz file holds one split, got {splits}.")
    try:
        with np.load(path) as packed:
            jpeg, offsets, labels = packed["jpeg"], packed["offsets"], packed["y"]
    except (OSError, ValueError, KeyError) as err:
        raise DataError(
            f"{path} is not a jpeg_npz file (need keys jpeg, offsets, y): {err}"
        ) from None
    if len(offsets) != len(labels) + 1:
        raise DataError(
            f"{path.name}: offsets has {len(offsets)} entries, expected "
            f"len(y) + 1 = {len(labels) + 1}."
        )
    images = _decode_all(jpeg.tobytes(), offsets.tolist(), path)
    return {splits[0]: (images, labels.astype(np.int64))}


def _decode_all(buffer: bytes, offsets: list[int], path: Path) -> np.ndarray:
    """Decode image i = buffer[offsets[i]:offsets[i+1]] into (N, C, H, W) uint8."""
    num = len(offsets) - 1
    if num == 0:
        raise DataError(f"{path.name} holds no images.")
    first = _decode_one(buffer, offsets, 0, path)  # (C, H, W): fixes the shape
    images = np.empty((num, *first.shape), dtype=np.uint8)
    starts = range(0, num, _DECODE_CHUNK)

    def fill(start: int) -> None:
        for i in range(start, min(start + _DECODE_CHUNK, num)):
            images[i] = _decode_one(buffer, offsets, i, path, first.shape)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(fill, starts))  # list(): re-raise any worker's error
    return images


def _decode_one(
    buffer: bytes, offsets: list[int], i: int, path: Path, shape: tuple = ()
) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(buffer[offsets[i] : offsets[i + 1]])) as image:
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            pixels = np.asarray(rgb).transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
    except (OSError, ValueError) as err:
        raise DataError(f"{path.name}: image {i} cannot be decoded: {err}") from err
    if shape and pixels.shape != shape:
        raise DataError(
            f"{path.name}: image {i} has shape {pixels.shape} (C, H, W), "
            f"expected {shape} like image 0."
        )
    return pixels


# ---------------------------------------------------------------------------
# image_npz: decoded uint8 arrays, every split in one .npz
# ---------------------------------------------------------------------------


def decode_image_npz(path: Path, splits: Sequence[str]) -> dict[str, Arrays]:
    """Read `x_<split>` (N, H, W) or (N, H, W, C) uint8 and `y_<split>` for each split."""
    result = {}
    try:
        with np.load(path) as arrays:
            for split in splits:
                images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
                if images.dtype != np.uint8 or images.ndim not in (3, 4) \
                        or len(images) != len(labels):
                    raise ValueError(f"x_{split} is {images.dtype} {images.shape} with "
                                     f"{len(labels)} labels")
                images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
                result[split] = (np.ascontiguousarray(images), labels.astype(np.int64))
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"{path} is not an image_npz file with uint8 x_<split> (N, H, W[, C]) "
                        f"and y_<split> for splits {list(splits)}: {err}") from None
    return result


# ---------------------------------------------------------------------------
# cifar_python_tarball: the official CIFAR-10 python pickles
# ---------------------------------------------------------------------------

_CIFAR_MEMBERS = {  # split -> batch files inside the tarball, in order
    "train": [f"cifar-10-batches-py/data_batch_{k}" for k in range(1, 6)],
    "test": ["cifar-10-batches-py/test_batch"],
}


def decode_cifar_tarball(path: Path, splits: Sequence[str]) -> dict[str, Arrays]:
    """Read the pickled batches of `cifar-10-python.tar.gz` in one pass.

    Each batch is a dict with b"data", uint8 (N, 3072) stored channel-major
    (1024 red, then green, then blue values, row by row), and b"labels".
    """
    unknown = set(splits) - set(_CIFAR_MEMBERS)
    if unknown:
        raise DataError(
            f"{path.name}: the CIFAR-10 tarball has splits {sorted(_CIFAR_MEMBERS)}, "
            f"not {sorted(unknown)}."
        )
    wanted = {m for split in splits for m in _CIFAR_MEMBERS[split]}
    batches = _read_members(path, wanted)
    result = {}
    for split in splits:
        parts = [batches[m] for m in _CIFAR_MEMBERS[split]]
        try:
            data = np.concatenate([np.asarray(b[b"data"], np.uint8) for b in parts])
            labels = np.concatenate([np.asarray(b[b"labels"], np.int64) for b in parts])
            images = data.reshape(-1, 3, 32, 32)  # (N, 3072) -> (N, C, H, W)
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(
                f"{path.name}: a {split} batch is not a dict with b'data' "
                f"(N, 3072) uint8 and b'labels': {err!r}"
            ) from err
        result[split] = (images, labels)
    return result


def _read_members(path: Path, wanted: set[str]) -> dict[str, dict]:
    """Unpickle the `wanted` members of a tar.gz, streaming it once."""
    found = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:  # one pass: no seeking back in the gzip stream
                if member.name in wanted:
                    found[member.name] = _safe_unpickle(tar.extractfile(member).read())
    except (OSError, EOFError, tarfile.TarError, pickle.UnpicklingError) as err:
        raise DataError(f"{path} is not a readable CIFAR-10 tarball: {err}") from None
    missing = wanted - set(found)
    if missing:
        raise DataError(f"{path} lacks the members {sorted(missing)}.")
    return found


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickle dicts, lists, bytes and numpy arrays, and nothing else.

    A pickle can run arbitrary code when loaded; this one refuses every global
    except the few a numpy array needs, even though the file's checksum was
    verified before.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),  # pickles written by numpy 1.x
        ("numpy._core.multiarray", "_reconstruct"),  # ... by numpy 2.x
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    }

    def find_class(self, module: str, name: str) -> Callable:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.empty(0))[0]  # numpy's own _reconstruct
        return super().find_class(module, name)


def _safe_unpickle(data: bytes) -> dict:
    return _ArraysOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()


# ---------------------------------------------------------------------------
# csv_gz: a table
# ---------------------------------------------------------------------------


def read_csv_gz(path: Path, splits: Sequence[str]) -> dict[str, "pd.DataFrame"]:
    """One gzipped CSV with a header row, holding one split."""
    import pandas as pd
    if len(splits) != 1:
        raise DataError(f"{path.name}: a csv_gz file holds one split, got {list(splits)}.")
    try:
        return {splits[0]: pd.read_csv(path, compression="gzip")}
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path} is not a gzipped CSV with a header row: {err}") from None


def read_text_lines(path: Path, splits: Sequence[str]) -> dict[str, "pd.DataFrame"]:
    """One example per line of a UTF-8 text file (blank lines skipped), column "text"."""
    import gzip
    import pandas as pd
    if len(splits) != 1:
        raise DataError(f"{path.name}: a text_lines file holds one split, got {list(splits)}.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            lines = [line.rstrip("\r\n") for line in f]
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise DataError(f"{path} is not a UTF-8 text file: {err}") from None
    return {splits[0]: pd.DataFrame({"text": [line for line in lines if line.strip()]})}


def read_glove_txt_gz(path: Path, splits: Sequence[str]) -> dict[str, "pd.DataFrame"]:
    """Gzipped GloVe vectors ("word v1 v2 ..." per line), indexed by word.

    Words are read as they are: no quoting, and "null" or "nan" stay words.
    """
    import csv
    import pandas as pd
    if len(splits) != 1:
        raise DataError(f"{path.name}: a glove_txt_gz file holds one split, got {list(splits)}.")
    try:
        frame = pd.read_csv(path, sep=" ", header=None, index_col=0, compression="gzip",
                            quoting=csv.QUOTE_NONE, keep_default_na=False, na_values=[])
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path} is not gzipped GloVe text: {err}") from None
    if frame.empty or not all(dtype.kind == "f" for dtype in frame.dtypes):
        raise DataError(f"{path} is not gzipped GloVe text: expected a word and numbers "
                        "on every line")
    frame.index = frame.index.astype(str).rename("word")
    frame.columns = range(frame.shape[1])
    return {splits[0]: frame}


DECODERS: dict[str, Callable[[Path, Sequence[str]], dict[str, Arrays]]] = {
    "jpeg_npz": decode_jpeg_npz,
    "image_npz": decode_image_npz,
    "cifar_python_tarball": decode_cifar_tarball,
}

READERS: dict[str, Callable[[Path, Sequence[str]], dict[str, "pd.DataFrame"]]] = {
    "csv_gz": read_csv_gz,
    "glove_txt_gz": read_glove_txt_gz,
    "text_lines": read_text_lines,
}


def can_read(format_name: str) -> bool:
    """Whether coursekit can turn a file of this format into arrays or a table."""
    return format_name in DECODERS or format_name in READERS
