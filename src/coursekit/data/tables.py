"""Datasets that are tables of text or numbers: read the verified files as DataFrames.

`load_table("imdb")` returns {"train": DataFrame, "test": DataFrame}. The files are
found and checked like image data (see `lookup.locate`), then read with pandas; they
are small enough that no decoded cache is kept. Formats: `formats.READERS` (`csv_gz`: one gzipped CSV per split).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import formats
from .errors import DataError
from .lookup import locate, resolve_manifest
from .manifest import Manifest

__all__ = ["load_table", "split_frame"]


def load_table(name: str, *, manifest: Manifest | None = None, data_dir: Path | None = None,
               mirror: str | None = None) -> dict[str, pd.DataFrame]:
    """Every split of a table dataset, e.g. ``load_table("imdb")["train"]``.

    Raises:
        DatasetNotFoundError, ChecksumError: as `fetch`.
        DataError: for a source format that cannot be read as a table (an official
            archive that is not converted yet: use the mirror).
    """
    manifest = resolve_manifest(name, manifest)
    fmt, files = locate(name, manifest=manifest, data_dir=data_dir, mirror=mirror)
    if fmt not in formats.READERS:
        raise DataError(
            f"{name}: its source was found in format {fmt!r}, which coursekit cannot "
            f"read as a table ({', '.join(formats.READERS)} only). Use the course "
            f"mirror: export COURSEKIT_DATA_MIRROR=/path/to/shared/data"
        )
    frames: dict[str, pd.DataFrame] = {}
    for path, splits in files:
        frames.update(formats.READERS[fmt](path, splits))
    return {split: frames[split] for split in manifest.splits}


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
