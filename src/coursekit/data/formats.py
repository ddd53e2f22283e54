"""File formats: turn a verified source file into uint8 image arrays or tables.

Each image format is one function `decode(path, splits) -> {split: (images, labels)}`
with images a uint8 array (N, C, H, W) RGB and labels an int64 array (N,); each
table format one function `read(path, splits) -> {split: DataFrame}`.
A manifest names its format (`mirror.format`, `official.format`); adding a
dataset in a known format therefore needs only a manifest file.

- `jpeg_npz`: the course mirror. One .npz per split with keys `jpeg` (all JPEG
  files concatenated), `offsets` (N+1; image i is jpeg[offsets[i]:offsets[i+1]])
  and `y` (N labels), optionally `file_name` (N). Used by CIFAR-10 and Tiny ImageNet.
- `image_npz`: decoded arrays in one .npz, keys `x_<split>` (N, H, W) grayscale or
  (N, H, W, C) and `y_<split>` (N,). Used by the Gurmukhi digits.
- `cifar_python_tarball`: the official CIFAR-10 "python version" tar.gz.
- `tiny_imagenet_zip`: the official tiny-imagenet-200.zip. Its labelled JPEGs are
  packed exactly as in the mirror's jpeg_npz files (`pack_tiny_imagenet_zip`), then
  decoded. A manifest may keep only some
  classes (`official.select`: their wnids), as the 10-class subset does.
- `csv_gz` (a table): one gzipped CSV per split, with a header row.
- `text_lines` (a table): a UTF-8 text file (gzipped if its name ends in .gz), one
  example per line, read as a DataFrame with one column, "text".
- `glove_txt_gz` (a table): gzipped GloVe text, a word and its vector per line; read
  as a DataFrame indexed by word, one column per dimension.

The readers of the other publishers' files (aclImdb, the PyTorch tutorials' zip,
GloVe, UCI's electricity zip, the Gurmukhi digits' zips) are in
`coursekit.data.archives`. A manifest may name a format that has no function
yet: `can_read` is False for it, and the lookup neither downloads such a file nor
uses a copy of it.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from . import archives
from .errors import DataError

__all__ = ["Arrays", "DECODERS", "Packed", "READERS", "SELECTING", "can_read",
           "decode", "decode_cifar_tarball",
           "decode_image_npz", "decode_jpeg_npz", "decode_tiny_imagenet_zip",
           "pack_tiny_imagenet_zip", "read_csv_gz", "read_glove_txt_gz", "read_text_lines"]

Arrays = tuple[np.ndarray, np.ndarray]  # images (N, C, H, W) uint8, labels (N,) int64

_DECODE_CHUNK = 2048  # images per thread-pool task


def decode(
    format_name: str, path: Path, splits: Sequence[str], *, select: Sequence[str] = (),
    **options,
) -> dict[str, Arrays]:
    """Decode `path`, a file in format `format_name`, into arrays for `splits`.

    Args:
        format_name: a key of `DECODERS`, as written in a manifest.
        path: the verified source file.
        splits: the splits this file holds, e.g. ["train"] or ["train", "test"].
        select: keep only these classes, by the file's own class ids, and label
            them 0, 1, ... in this order (a manifest's `official.select`); empty:
            every class. Only formats in `SELECTING` accept it.
        options: keywords of the format's decoder (a manifest's `options`).
    Returns:
        {split: (images uint8 (N, C, H, W), labels int64 (N,))}.
    Raises:
        DataError: for an unknown format, a `select` the format cannot apply, or
            a file that does not fit the format.
    """
    if format_name not in DECODERS:
        raise DataError(
            f"Unknown data format {format_name!r} for {path.name}; known formats: "
            f"{sorted(DECODERS)}. Fix the manifest, or add a decoder to "
            f"coursekit/data/formats.py."
        )
    if not select:
        return DECODERS[format_name](path, splits, **options)
    if format_name not in SELECTING:
        raise DataError(
            f"{path.name}: format {format_name!r} cannot keep only some classes; "
            f"remove 'select' from the manifest (formats that can: {sorted(SELECTING)})."
        )
    return DECODERS[format_name](path, splits, select=select, **options)


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


def _decode_all(
    buffer: bytes, offsets: list[int], path: Path, names: Sequence[str] = ()
) -> np.ndarray:
    """Decode image i = buffer[offsets[i]:offsets[i+1]] into (N, C, H, W) uint8.

    `names`, if given, are the images' file names, for error messages.
    """
    num = len(offsets) - 1
    if num == 0:
        raise DataError(f"{path.name} holds no images.")
    first = _decode_one(buffer, offsets, 0, path, names)  # (C, H, W): fixes the shape
    images = np.empty((num, *first.shape), dtype=np.uint8)
    starts = range(0, num, _DECODE_CHUNK)

    def fill(start: int) -> None:
        for i in range(start, min(start + _DECODE_CHUNK, num)):
            images[i] = _decode_one(buffer, offsets, i, path, names, first.shape)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(fill, starts))  # list(): re-raise any worker's error
    return images


def _decode_one(
    buffer: bytes, offsets: list[int], i: int, path: Path, names: Sequence[str] = (),
    shape: tuple = (),
) -> np.ndarray:
    image_name = f"image {i} ({names[i]})" if len(names) else f"image {i}"
    try:
        with Image.open(io.BytesIO(buffer[offsets[i] : offsets[i + 1]])) as image:
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            pixels = np.asarray(rgb).transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
    except (OSError, ValueError) as err:
        raise DataError(f"{path.name}: {image_name} cannot be decoded: {err}") from err
    if shape and pixels.shape != shape:
        raise DataError(
            f"{path.name}: {image_name} has shape {pixels.shape} (C, H, W), "
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
# tiny_imagenet_zip: the official tiny-imagenet-200.zip
# ---------------------------------------------------------------------------

Packed = dict[str, np.ndarray]  # one split as in a jpeg_npz file: jpeg, offsets, y, file_name

_TINY_SPLITS = ("train", "val")  # the labelled splits; test/ has no labels
_TINY_TRAIN = re.compile(r"train/(n\d+)/images/(n\d+)_(\d+)\.JPEG")
_TINY_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
                UnicodeDecodeError)
_TINY_FIX = "It is not the official tiny-imagenet-200.zip: delete it and fetch the data again."


def pack_tiny_imagenet_zip(
    path: Path, splits: Sequence[str] = _TINY_SPLITS, *, select: Sequence[str] = ()
) -> dict[str, Packed]:
    """The labelled JPEGs of the official zip, packed as in the mirror's jpeg_npz files.

    The zip holds `tiny-imagenet-200/` with `wnids.txt` (the 200 class ids),
    `train/<wnid>/images/<wnid>_<k>.JPEG` (500 per class), `val/images/val_<k>.JPEG`
    labelled by `val/val_annotations.txt` (file, wnid, box per line), `words.txt`
    (names; not needed here) and an unlabelled `test/` (left out). The JPEG bytes
    are kept unchanged.

    Label i is the i-th of the sorted wnids (torchvision's ImageFolder order) or,
    with `select`, of `select`. Train is ordered by label, then by k as a number;
    val follows val_annotations.txt, grouped by label (in file order) when `select`
    is given. These are the orders of the course mirror's files, so both sources
    give the same arrays.

    Args:
        path: the zip.
        splits: some of "train", "val".
        select: wnids of the classes to keep, in label order; empty: all of them.
    Returns:
        {split: {"jpeg": uint8 (all JPEG files concatenated,), "offsets": int64
        (N+1,), "y": uint8 (N,), "file_name": str (N,)}}.
    Raises:
        DataError: for a file that is not a readable zip in this layout; the message
            names the file, and the member at fault if one is.
    """
    unknown = [s for s in splits if s not in _TINY_SPLITS]
    if unknown:
        raise DataError(f"{path.name}: the Tiny ImageNet zip has the labelled splits "
                        f"{list(_TINY_SPLITS)}, not {unknown}.")
    try:
        with zipfile.ZipFile(path) as archive:
            return _pack_tiny(archive, path, splits, tuple(select))
    except _TINY_ERRORS as err:
        raise DataError(f"{path} cannot be read as a zip: {type(err).__name__}: {err}. "
                        f"{_TINY_FIX}") from None


def _pack_tiny(
    archive: zipfile.ZipFile, path: Path, splits: Sequence[str], select: tuple[str, ...]
) -> dict[str, Packed]:
    names = archive.namelist()
    tops = sorted((n for n in names if n.rsplit("/", 1)[-1] == "wnids.txt"), key=len)
    if not tops:
        raise DataError(f"{path} has no tiny-imagenet-200/wnids.txt. {_TINY_FIX}")
    prefix = tops[0][: -len("wnids.txt")]  # "tiny-imagenet-200/" in the official zip
    wnids = _read_text(archive, path, tops[0]).split()
    if not wnids or len(set(wnids)) != len(wnids):
        raise DataError(f"{path}: {tops[0]} does not list distinct wnids. {_TINY_FIX}")
    missing = [w for w in select if w not in wnids]
    if missing or len(set(select)) != len(select):
        raise DataError(f"{path.name}: 'select' must name distinct wnids of {tops[0]}; "
                        f"{missing or 'some are repeated'}. Fix the manifest's official.select.")
    label = {w: i for i, w in enumerate(select or sorted(wnids))}
    found = {}
    if "train" in splits:
        found["train"] = _tiny_train(names, prefix, label, path)
    if "val" in splits:
        found["val"] = _tiny_val(archive, path, prefix, set(wnids), label, grouped=bool(select))
    return {split: _pack_members(archive, path, found[split], len(label)) for split in splits}


def _tiny_train(
    names: list[str], prefix: str, label: dict[str, int], path: Path
) -> list[tuple[int, str]]:
    """(label, member) of every training JPEG of the kept classes, by label then k."""
    keyed = []
    for name in names:
        match = _TINY_TRAIN.fullmatch(name[len(prefix):]) if name.startswith(prefix) else None
        if match and match[1] == match[2] and match[1] in label:
            keyed.append((label[match[1]], int(match[3]), name))
    seen = {y for y, _, _ in keyed}
    empty = [wnid for wnid, y in label.items() if y not in seen]
    if empty:
        raise DataError(f"{path} has no training images of {empty[:5]} (expected "
                        f"{prefix}train/<wnid>/images/<wnid>_<k>.JPEG). {_TINY_FIX}")
    return [(y, name) for y, _, name in sorted(keyed)]


def _tiny_val(
    archive: zipfile.ZipFile, path: Path, prefix: str, wnids: set[str],
    label: dict[str, int], grouped: bool,
) -> list[tuple[int, str]]:
    """(label, member) of the validation JPEGs of the kept classes, in annotation order."""
    annotations = f"{prefix}val/val_annotations.txt"
    kept = []
    for number, line in enumerate(_read_text(archive, path, annotations).splitlines(), 1):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) < 2 or fields[1] not in wnids:
            raise DataError(f"{path}: {annotations} line {number} is not '<file> TAB "
                            f"<wnid of wnids.txt> ...': {line[:80]!r}. {_TINY_FIX}")
        if fields[1] in label:
            kept.append((label[fields[1]], f"{prefix}val/images/{fields[0]}"))
    if grouped:
        kept.sort(key=lambda item: item[0])  # stable: annotation order within a class
    return kept


def _pack_members(
    archive: zipfile.ZipFile, path: Path, members: list[tuple[int, str]], num_classes: int
) -> Packed:
    listed = " (listed in val/val_annotations.txt)"
    blobs = [_read_member(archive, path, name, listed if "/val/" in name else "")
             for _, name in members]
    return {
        "jpeg": np.frombuffer(b"".join(blobs), dtype=np.uint8),
        "offsets": np.cumsum([0] + [len(b) for b in blobs], dtype=np.int64),
        "y": np.array([y for y, _ in members], np.uint8 if num_classes <= 256 else np.int64),
        "file_name": np.array([name.rsplit("/", 1)[-1] for _, name in members], dtype=str),
    }


def _read_member(archive: zipfile.ZipFile, path: Path, name: str, why: str = "") -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise DataError(f"{path} lacks {name}{why}. {_TINY_FIX}") from None


def _read_text(archive: zipfile.ZipFile, path: Path, name: str) -> str:
    return _read_member(archive, path, name).decode("utf-8")


def decode_tiny_imagenet_zip(
    path: Path, splits: Sequence[str], *, select: Sequence[str] = ()
) -> dict[str, Arrays]:
    """Decode the labelled splits of the official zip (see `pack_tiny_imagenet_zip`).

    Greyscale JPEGs are converted to RGB. The JPEGs are read into memory first
    (about 210 MB for all 110,000), then decoded like the mirror's files.
    """
    packed = pack_tiny_imagenet_zip(path, splits, select=select)
    return {
        split: (_decode_all(memoryview(p["jpeg"]), p["offsets"].tolist(), path,
                            p["file_name"]), p["y"].astype(np.int64))
        for split, p in packed.items()
    }


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
    if len(splits) != 1:
        raise DataError(f"{path.name}: a text_lines file holds one split, got {list(splits)}.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return {splits[0]: lines_table(f)}
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise DataError(f"{path} is not a UTF-8 text file: {err}") from None


def lines_table(lines: Iterable[str]) -> "pd.DataFrame":
    """One example per line, line endings dropped and blank lines skipped, as the
    table ``text`` that every text_lines source gives."""
    import pandas as pd
    kept = (line.rstrip("\r\n") for line in lines)
    return pd.DataFrame({"text": [line for line in kept if line.strip()]})


def read_glove_txt_gz(path: Path, splits: Sequence[str]) -> dict[str, "pd.DataFrame"]:
    """Gzipped GloVe vectors ("word v1 v2 ..." per line), indexed by word.

    Words are read as they are: no quoting, and "null" or "nan" stay words.
    """
    import gzip
    if len(splits) != 1:
        raise DataError(f"{path.name}: a glove_txt_gz file holds one split, got {list(splits)}.")
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not gzipped GloVe text: {err}") from None
    return {splits[0]: parse_glove_lines(text, f"{path} (gzipped)")}


def parse_glove_lines(text: str, where: str) -> "pd.DataFrame":
    """GloVe text ("word v1 v2 ..." per line) as a DataFrame indexed by word."""
    import csv
    import pandas as pd
    try:
        frame = pd.read_csv(io.StringIO(text), sep=" ", header=None, index_col=0,
                            quoting=csv.QUOTE_NONE, keep_default_na=False, na_values=[])
    except (ValueError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{where} is not GloVe text: {err}") from None
    if frame.empty or not all(dtype.kind == "f" for dtype in frame.dtypes):
        raise DataError(f"{where} is not GloVe text: expected a word and numbers "
                        "on every line")
    frame.index = frame.index.astype(str).rename("word")
    frame.columns = range(frame.shape[1])
    return frame


DECODERS: dict[str, Callable[[Path, Sequence[str]], dict[str, Arrays]]] = {
    "jpeg_npz": decode_jpeg_npz,
    "image_npz": decode_image_npz,
    "cifar_python_tarball": decode_cifar_tarball,
    "tiny_imagenet_zip": decode_tiny_imagenet_zip,
    "gurmukhi_bmp_zip": archives.decode_gurmukhi_bmp_zip,
}

SELECTING = {"tiny_imagenet_zip"}  # decoders that accept `select` (keep some classes)

READERS: dict[str, Callable[[Path, Sequence[str]], dict[str, "pd.DataFrame"]]] = {
    "csv_gz": read_csv_gz,
    "glove_txt_gz": read_glove_txt_gz,
    "text_lines": read_text_lines,
    # the publishers' own files (coursekit.data.archives)
    "aclimdb_tarball": archives.read_aclimdb_tarball,
    "csv": archives.read_csv,
    "glove_zip_subset": archives.read_glove_zip_subset,
    "uci_electricity_zip": archives.read_uci_electricity_zip,
    "zip_text_lines": archives.read_zip_text_lines,
}


def can_read(format_name: str) -> bool:
    """Whether coursekit can turn a file of this format into arrays or a table."""
    return format_name in DECODERS or format_name in READERS
