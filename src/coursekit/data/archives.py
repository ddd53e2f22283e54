"""Readers of the publishers' own files, giving what the mirror's files give.

Each reader turns an official download into the tables or arrays the chapters load
from the mirror, so a chapter cannot tell where its data came from (except where a
manifest's `official.splits` says the publisher's files hold more examples):

- `aclimdb_tarball`: `aclImdb_v1.tar.gz`, one review per `<split>/<pos|neg>/<id>_<rating>.txt`,
  as the table `id, rating, label, text` (label 1 = pos), pos then neg, each by id.
- `zip_text_lines`: one text file per split inside a zip (`members`: split -> path),
  e.g. the PyTorch tutorials' `data.zip` with `data/names/Arabic.txt` and `data/eng-fra.txt`.
- `csv`: a plain or compressed CSV with a header row (the airline tweets' `Tweets.csv`).
- `glove_zip_subset`: `glove.6B.zip`, keeping the first `first` words of `member` and the
  words in `also`, in the file's order (the mirror's 5,050-word subset).
- `uci_electricity_zip`: UCI's `LD2011_2014.txt.zip` (semicolons, decimal commas, one
  column per client, a reading every 15 minutes), reduced to one client's hourly sums
  as `date, hour, <client>`: each reading counts in the clock hour it is stamped in.
- `gurmukhi_bmp_zip`: a zip of `<split>/<digit>/<n>.bmp` 1-bit images, decoded to uint8
  0/255 greyscale arrays (N, 1, H, W), by digit then file number.
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from PIL import Image

from .errors import DataError

__all__ = ["decode_gurmukhi_bmp_zip", "read_aclimdb_tarball", "read_csv",
           "read_glove_zip_subset", "read_uci_electricity_zip", "read_zip_text_lines"]

_REVIEW = re.compile(r"^aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def read_aclimdb_tarball(path: Path, splits: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The labelled reviews of `aclImdb_v1.tar.gz`, one table per split, read in
    one pass over the archive (the unlabelled `train/unsup` reviews are skipped)."""
    rows: dict[str, list[tuple[int, int, int, str]]] = {split: [] for split in splits}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                match = _REVIEW.match(member.name)
                if not (member.isfile() and match and match[1] in rows):
                    continue
                text = archive.extractfile(member).read().decode("utf-8")
                rows[match[1]].append((int(match[3]), int(match[4]),
                                       int(match[2] == "pos"), text))
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not a readable aclImdb tarball: {err}") from None
    return {split: _review_table(found) for split, found in rows.items()}


def _review_table(rows: list[tuple[int, int, int, str]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["id", "rating", "label", "text"])
    return table.sort_values(["label", "id"], ascending=[False, True], ignore_index=True)


def read_zip_text_lines(path: Path, splits: Sequence[str], *,
                        members: dict[str, str]) -> dict[str, pd.DataFrame]:
    """One UTF-8 member per split, one example per line (blank lines skipped), as
    the table `text`, like the mirror's `text_lines` files."""
    missing = [split for split in splits if split not in members]
    if missing:
        raise DataError(f"{path.name}: the manifest names no member for splits {missing}; "
                        f"add them to the file's options.members.")
    try:
        with zipfile.ZipFile(path) as archive:
            texts = {split: archive.read(members[split]).decode("utf-8") for split in splits}
    except KeyError as err:
        raise DataError(f"{path} has no member {err}: not the archive the manifest "
                        f"describes.") from None
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not a readable zip of UTF-8 text: {err}") from None
    from .formats import lines_table  # the mirror's text_lines reading, shared
    return {split: lines_table(text.split("\n")) for split, text in texts.items()}


def read_csv(path: Path, splits: Sequence[str]) -> dict[str, pd.DataFrame]:
    """One CSV with a header row (compressed or not, by its name), holding one split."""
    if len(splits) != 1:
        raise DataError(f"{path.name}: a csv file holds one split, got {list(splits)}.")
    try:
        return {splits[0]: pd.read_csv(path)}
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path} is not a CSV with a header row: {err}") from None


def read_glove_zip_subset(path: Path, splits: Sequence[str], *, member: str, first: int,
                          also: Sequence[str] = ()) -> dict[str, pd.DataFrame]:
    """The first `first` words of the GloVe text `member` and the words of `also`,
    in the file's order, as the table the mirror's `glove_txt_gz` subset gives."""
    from .formats import parse_glove_lines  # the mirror's parser, shared
    if len(splits) != 1:
        raise DataError(f"{path.name}: a GloVe subset is one split, got {list(splits)}.")
    wanted, kept = set(also), []
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as raw:
            for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8")):
                if number < first or line.split(" ", 1)[0] in wanted:
                    kept.append(line)
    except KeyError:
        raise DataError(f"{path} has no member {member!r}: not the GloVe archive the "
                        f"manifest describes.") from None
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not a readable GloVe zip: {err}") from None
    return {splits[0]: parse_glove_lines("".join(kept), str(path))}


def read_uci_electricity_zip(path: Path, splits: Sequence[str], *, member: str,
                             client: str) -> dict[str, pd.DataFrame]:
    """One client's load from UCI's ElectricityLoadDiagrams20112014 zip, summed per
    clock hour: the table `date, hour, <client>` of the mirror's file."""
    if len(splits) != 1:
        raise DataError(f"{path.name}: the load table is one split, got {list(splits)}.")
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as raw:
            readings = pd.read_csv(raw, sep=";", decimal=",", index_col=0,
                                   usecols=lambda name: name in ("Unnamed: 0", "", client))
    except KeyError:
        raise DataError(f"{path} has no member {member!r}: not UCI's archive.") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise DataError(f"{path} is not a readable UCI electricity zip: {err}") from None
    if client not in readings.columns:
        raise DataError(f"{path}: {member} has no column {client!r}.")
    stamps = pd.to_datetime(readings.index)
    hourly = readings[client].groupby(stamps.floor("h")).sum()
    table = pd.DataFrame({"date": hourly.index.strftime("%Y-%m-%d"),
                          "hour": hourly.index.hour, client: hourly.to_numpy()})
    return {splits[0]: table}


def decode_gurmukhi_bmp_zip(path: Path, splits: Sequence[str]
                            ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The `<digit>/<n>.bmp` images of a zip holding one split, by digit then n."""
    if len(splits) != 1:
        raise DataError(f"{path.name}: a Gurmukhi zip holds one split, got {list(splits)}.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted((_digit_and_number(name), name) for name in archive.namelist()
                           if name.lower().endswith(".bmp") and _digit_and_number(name))
            images = [np.asarray(Image.open(io.BytesIO(archive.read(name))).convert("L"))
                      for _, name in names]
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"{path} is not a readable zip of BMP images: {err}") from None
    if not images:
        raise DataError(f"{path} holds no <digit>/<n>.bmp images.")
    labels = np.array([digit for (digit, _), _ in names], dtype=np.int64)
    return {splits[0]: (np.stack(images)[:, None], labels)}


def _digit_and_number(name: str) -> tuple[int, int] | None:
    parts = PurePosixPath(name).parts
    if len(parts) < 2 or not parts[-2].isdigit() or not PurePosixPath(name).stem.isdigit():
        return None
    return int(parts[-2]), int(PurePosixPath(name).stem)
