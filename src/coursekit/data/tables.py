"""Datasets that are tables of text or numbers: read the verified files as DataFrames.

`load_table("imdb")` returns {"train": DataFrame, "test": DataFrame}. The files are
found and checked like image data (see `lookup.locate`), then read with pandas; they
are small enough that no decoded cache is kept. Formats: `formats.READERS` (`csv_gz`: one gzipped CSV per split).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import formats
from .errors import DataError
from .lookup import locate, resolve_manifest
from .manifest import Manifest

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = ["load_table", "split_frame", "split_sizes"]


def load_table(name: str, *, manifest: Manifest | None = None, data_dir: Path | None = None,
               mirror: str | None = None) -> dict[str, pd.DataFrame]:
    """Every split of a table dataset, e.g. ``load_table("imdb")["train"]``.

    Raises:
        DatasetNotFoundError, ChecksumError: as `fetch`.
        DataError: for a source format that cannot be read as a table (an official
            archive that is not converted yet: use the mirror).
    """
    manifest = resolve_manifest(name, manifest)
    kind, files = locate(name, manifest=manifest, data_dir=data_dir, mirror=mirror)
    unreadable = sorted({f.format for f in files} - set(formats.READERS))
    if unreadable:
        raise DataError(
            f"{name}: its source was found in format {', '.join(unreadable)}, which "
            f"coursekit cannot read as a table ({', '.join(formats.READERS)} only). Use "
            f"the course mirror: export COURSEKIT_DATA_MIRROR=/path/to/shared/data"
        )
    frames: dict[str, pd.DataFrame] = {}
    for item in files:
        frames.update(formats.READERS[item.format](item.path, item.splits, **item.options))
    _check_rows(manifest, kind, frames)
    return {split: frames[split] for split in manifest.splits}


def _check_rows(manifest: Manifest, kind: str, frames: dict[str, pd.DataFrame]) -> None:
    """Every split is there with the number of rows its source holds (the manifest's
    `splits`, or `official.splits` where the publisher's files hold more)."""
    expected = manifest.split_sizes(kind)
    found = {split: len(frames[split]) for split in expected if split in frames}
    if found != expected:
        raise DataError(
            f"{manifest.name}: its {kind} files hold rows per split {found}, but the "
            f"manifest says {expected}. The files are not the ones the manifest "
            f"describes: delete them from the data dir and fetch again.")


def split_frame(frame: pd.DataFrame, sizes: dict[str, int], *, label: str = "label",
                seed: int = 0) -> dict[str, pd.DataFrame]:
    """Stratified random splits of ``frame`` with the given numbers of rows.

    ``sizes`` maps split names to row counts, e.g. report C's
    {"train": 36000, "val": 4000, "test": 10000}; their sum may be less than the
    frame (the rest is left out). Each split keeps the class proportions of ``label``.

    Raises:
        ValueError: if the sizes ask for more rows than the frame has.
    """
    from sklearn.model_selection import train_test_split
    if sum(sizes.values()) > len(frame):
        raise ValueError(f"split sizes {sizes} add up to {sum(sizes.values())} rows, "
                         f"but the frame has {len(frame)}")
    splits, rest = {}, frame
    for i, (name, size) in enumerate(sizes.items()):
        if i == len(sizes) - 1 and size == len(rest):
            splits[name] = rest
            break
        rest, splits[name] = train_test_split(rest, test_size=size, random_state=seed,
                                              stratify=rest[label])
    return {name: splits[name].reset_index(drop=True) for name in sizes}


def split_sizes(splits: dict, name: str = "images") -> Styler:
    """How many items each split holds, as the one-column table a chapter shows under
    its data cell, thousands separated (``splits`` maps a split's name to anything with
    a length: image splits, DataFrames, lists of tokenised reviews).

    >>> table = split_sizes({"train": [0] * 45000, "test": [0] * 3})
    >>> table.data["images"].to_dict()
    {'train': 45000, 'test': 3}
    >>> "45,000" in table.to_html()
    True
    """
    sizes = pd.DataFrame({name: {k: len(v) for k, v in splits.items()}})
    return sizes.style.format("{:,}")
