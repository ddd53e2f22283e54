"""Datasets of the book: find, verify, decode once, load as tensors.

Every dataset has a manifest, `coursekit/data/manifests/<name>.yaml`, that lists its
files, checksums, classes and splits. `load_images(name)` looks for the data
in this order and uses the first source that works:

1. the data directory (`COURSEKIT_DATA_DIR`, default the user cache dir);
2. a mirror (`COURSEKIT_DATA_MIRROR`: a folder, read in place, or an http(s)
   URL, laid out like the data directory: `<mirror>/cifar10/...`);
3. the official source, downloaded into the data directory.

Both locations can be set once, in the user's config file, with
`coursekit data config --mirror PATH --data-dir PATH` (`settings`); an environment
variable still wins.

Every file is checked against its checksum (where a publisher gives none: the
pinned checksums of its members or of the decoded images, or, said so in the
manifest, only its archive CRCs and its number of examples); a bad download is
deleted. The
decoded arrays are cached in `<data dir>/<name>/decoded/`, so images are
decoded once and later loads are a fast `np.load`.

>>> from coursekit import data
>>> splits = data.load_images("cifar10")                # doctest: +SKIP
>>> train, val = data.split_off(splits["train"], 5000, seed=0)  # doctest: +SKIP

Modules: `manifest` (the YAML schema), `lookup` (fetch and status), `download`
(checksums and downloads), `formats` (file formats), `archives` (readers of the
publishers' own files), `cache` (decoded arrays),
`images` (tensors and splits), `tables` (text and numbers as DataFrames),
`settings` (where the data directory and the mirror are set). This
package knows nothing of training.
"""

from . import settings
from .errors import ChecksumError, DataError, DatasetNotFoundError
from .lookup import SourceFile, data_dir, fetch, locate, mirror_location, status
from .tables import load_table, split_frame, split_sizes
from .images import (ImageSplit, load_images, select_classes, split_off, subset, subsets,
                     to_grayscale, train_val_test)
from .manifest import (
    Manifest,
    MirrorFile,
    MirrorSource,
    OfficialFile,
    OfficialSource,
    list_datasets,
    load_manifest,
    manifests_dir,
)

__all__ = [
    "DataError",
    "DatasetNotFoundError",
    "ChecksumError",
    "Manifest",
    "MirrorFile",
    "MirrorSource",
    "OfficialFile",
    "OfficialSource",
    "SourceFile",
    "list_datasets",
    "manifests_dir",
    "load_manifest",
    "data_dir",
    "mirror_location",
    "fetch",
    "locate",
    "load_table",
    "split_frame",
    "status",
    "ImageSplit",
    "load_images",
    "select_classes",
    "subsets",
    "train_val_test",
    "to_grayscale",
    "split_off",
    "split_sizes",
    "subset",
    "settings",
]
