"""Dataset manifests: the YAML files in `coursekit/data/manifests/`, parsed and checked.

A manifest says what a dataset is (title, classes, split sizes, licence,
citation) and where its files come from (mirror files with sha256, the
official download with its checksum, and the format of each). This module
only reads manifests; finding and loading the files is `coursekit.data.fetch`.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Collection

import yaml

from coursekit._suggest import did_you_mean

from .errors import DataError

__all__ = [
    "Manifest",
    "MirrorFile",
    "MirrorSource",
    "OfficialFile",
    "OfficialSource",
    "list_datasets",
    "load_manifest",
    "manifests_dir",
]

# ---------------------------------------------------------------------------
# The schema: one frozen dataclass per YAML mapping
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MirrorFile:
    """One file of a mirror, e.g. `cifar10/cifar10_train_jpeg.npz`."""

    path: str  # relative to the mirror root, and to the data dir once downloaded
    split: str  # the split it holds: "train", "test", "val"
    sha256: str  # hex digest
    bytes: int  # exact size


@dataclass(frozen=True)
class MirrorSource:
    """The files of a dataset on the course mirror, all in one format."""

    format: str  # how to decode the files, e.g. "jpeg_npz"
    files: tuple[MirrorFile, ...]
    note: str = ""  # what differs from the official data (e.g. lossy JPEG)


@dataclass(frozen=True)
class OfficialFile:
    """One file its publisher hosts, e.g. a tarball; a source may need several."""

    url: str
    path: str  # where the download is kept, relative to the data dir
    bytes: int | None = None  # exact size; None where no copy could be measured
    md5: str = ""  # hex digest; give md5 or sha256 (sha256 wins if both)
    sha256: str = ""
    format: str = ""  # how to read it; empty: the source's format
    splits: tuple[str, ...] = ()  # the splits it holds; empty: every split
    # sha256 of members of an archive whose own checksum is not published, pinned
    # from byte-identical copies: a download is refused if one of them differs
    member_sha256: dict[str, str] = field(default_factory=dict)
    # why neither the file nor its members can be verified (no checksum published,
    # no copy reachable from the machines that wrote the manifest); such a file is
    # checked by its format (archive CRCs) and by the number of examples per split
    unverified: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # keywords for its reader

    @property
    def checksum(self) -> tuple[str, str] | None:
        """(algorithm, hex digest) of the whole file, or None where none is known."""
        if self.sha256:
            return ("sha256", self.sha256)
        return ("md5", self.md5) if self.md5 else None


@dataclass(frozen=True)
class OfficialSource:
    """Where the dataset's publishers put it: one file (`url`, `path`, `bytes`,
    `md5`/`sha256` in the YAML) or several (`files:`), all read by `format` unless a
    file names its own."""

    format: str  # how to convert the files, e.g. "cifar_python_tarball"
    files: tuple[OfficialFile, ...]
    note: str = ""
    # Only these classes of the file, by its own class ids (Tiny ImageNet: wnids);
    # label i is select[i]. Empty: all classes. Its format must accept it.
    select: tuple[str, ...] = ()
    # examples per split of this source where they differ from the manifest's
    # `splits` (the mirror's): e.g. the official IMDB archive's 25,000 + 25,000
    splits: dict[str, int] = field(default_factory=dict)
    # sha256 of the decoded images of each split (uint8 (N, C, H, W) bytes), for
    # archives whose own checksum is not published: checked after conversion
    decoded_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.files[0].url

    @property
    def path(self) -> str:
        return self.files[0].path

    @property
    def bytes(self) -> int | None:
        """The total download size, or None if a file's size is not known."""
        sizes = [f.bytes for f in self.files]
        return None if None in sizes else sum(sizes)

    @property
    def checksum(self) -> tuple[str, str] | None:
        """The first file's (algorithm, hex digest), as single-file sources have."""
        return self.files[0].checksum

    def format_of(self, item: OfficialFile) -> str:
        return item.format or self.format

    def with_file(self, index: int = 0, **changes: Any) -> "OfficialSource":
        """A copy whose file ``index`` has ``changes`` (e.g. ``url=`` a test server)."""
        files = list(self.files)
        files[index] = replace(files[index], **changes)
        return replace(self, files=tuple(files))

    def served_from(self, base_url: str) -> "OfficialSource":
        """A copy that downloads every file from ``base_url``/<its file name>, as a
        local server in a test, or a site that mirrors the publishers, would serve them."""
        return replace(self, files=tuple(
            replace(f, url=f"{base_url.rstrip('/')}/{f.url.rsplit('/', 1)[-1]}")
            for f in self.files))


@dataclass(frozen=True)
class Manifest:
    """A parsed `coursekit/data/manifests/<name>.yaml`; see `cifar10.yaml` for an example.

    Tests and notebooks may derive variants with `dataclasses.replace`, e.g.
    to point `official` at a local server.
    """

    name: str  # short id, equal to the file name: "cifar10"
    title: str  # for people: "CIFAR-10"
    description: str
    license: str
    citation: str
    splits: dict[str, int]  # split name -> number of examples
    prepare: str  # how to get the data by hand
    classes: tuple[str, ...] = ()  # label i means classes[i]
    image_shape: tuple[int, ...] | None = None  # (C, H, W) of every image
    mirror: MirrorSource | None = None
    official: OfficialSource | None = None
    source_file: Path | None = field(default=None, compare=False)  # the YAML

    def split_sizes(self, kind: str) -> dict[str, int]:
        """Examples per split in the files of one source kind ("mirror" or
        "official"): the official source may hold more (IMDB's 25,000 reviews per
        split against the mirror's 24,996)."""
        if kind == "official" and self.official is not None:
            return {**self.splits, **self.official.splits}
        return dict(self.splits)

    def __repr__(self) -> str:  # the default would print every text in full
        sources = [
            f"{kind} {source.format}"
            for kind, source in (("mirror", self.mirror), ("official", self.official))
            if source is not None
        ]
        return (
            f"Manifest({self.name!r}, {self.title!r}, splits={self.splits}, "
            f"{len(self.classes)} classes, sources: {', '.join(sources)})"
        )


# ---------------------------------------------------------------------------
# Finding and reading manifest files
# ---------------------------------------------------------------------------


def manifests_dir() -> Path:
    """The folder holding `<name>.yaml` manifests.

    Returns:
        `$COURSEKIT_MANIFESTS` if set, else the `manifests/` folder that ships
        inside this package (``coursekit/data/manifests``), so an installed
        coursekit knows every dataset.
    """
    override = os.environ.get("COURSEKIT_MANIFESTS")
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parent / "manifests"


def list_datasets() -> list[str]:
    """Names of all datasets that have a manifest, sorted.

    Example:
        >>> "cifar10" in list_datasets()
        True
    """
    folder = manifests_dir()
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob("*.yaml"))


def load_manifest(name: str) -> Manifest:
    """Read and check `<manifests_dir>/<name>.yaml`.

    Args:
        name: dataset name, e.g. "cifar10" (see `list_datasets()`).
    Returns:
        The parsed manifest.
    Raises:
        DataError: if no manifest has that name (the message lists the known
            ones), or if the file is not valid YAML or breaks the schema.
    """
    path = manifests_dir() / f"{name}.yaml"
    if not path.is_file():
        raise DataError(_unknown_name_message(name))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise DataError(f"Manifest {path} is not valid YAML: {err}") from None
    manifest = _parse_manifest(raw, path)
    if manifest.name != name:
        raise DataError(
            f"Manifest {path} says name: {manifest.name!r} but its file name "
            f"is {name}.yaml; make the two equal."
        )
    return manifest


def _unknown_name_message(name: str) -> str:
    known = list_datasets()
    return (
        f"Unknown dataset {name!r}.{did_you_mean(name, known)} Known datasets: "
        f"{', '.join(known) or '(none)'}. Manifests are read from "
        f"{manifests_dir()}; add <name>.yaml there, or set COURSEKIT_MANIFESTS "
        f"to another folder."
    )


# ---------------------------------------------------------------------------
# Parsing: plain dicts from YAML -> dataclasses, with errors naming the key
# ---------------------------------------------------------------------------


def _parse_manifest(raw: Any, path: Path) -> Manifest:
    values = _check_keys(raw, Manifest, path, "the top level", skip={"source_file"})
    if not isinstance(values["splits"], dict):
        raise DataError(f"Manifest {path}: splits must map split names to sizes.")
    values["splits"] = {str(k): int(v) for k, v in values["splits"].items()}
    values["classes"] = tuple(str(c) for c in values.get("classes") or ())
    if values.get("image_shape") is not None:
        values["image_shape"] = tuple(int(n) for n in values["image_shape"])
    if values.get("mirror") is not None:
        values["mirror"] = _parse_mirror(values["mirror"], path)
    if values.get("official") is not None:
        values["official"] = _parse_official(values["official"], path)
    manifest = Manifest(**values, source_file=path)
    _check_splits(manifest, path)
    return manifest


def _parse_mirror(raw: Any, path: Path) -> MirrorSource:
    values = _check_keys(raw, MirrorSource, path, "mirror")
    values["files"] = tuple(
        MirrorFile(**_check_keys(item, MirrorFile, path, f"mirror.files[{i}]"))
        for i, item in enumerate(values["files"] or [])
    )
    return MirrorSource(**values)


_SINGLE_FILE_KEYS = ("url", "path", "bytes", "md5", "sha256", "member_sha256",
                     "unverified", "options")


def _parse_official(raw: Any, path: Path) -> OfficialSource:
    raw = dict(_require_mapping(raw, path, "official"))
    if "url" in raw and "files" in raw:
        raise DataError(f"Manifest {path}: official has both url and files; give one "
                        "file's keys, or a list under files.")
    if "url" in raw:  # the one-file form: its keys sit on the source
        raw["files"] = [{key: raw.pop(key) for key in _SINGLE_FILE_KEYS if key in raw}]
    values = _check_keys(raw, OfficialSource, path, "official")
    if not isinstance(values.get("select") or [], list):
        raise DataError(f"Manifest {path}: official.select must be a list of class ids.")
    values["select"] = tuple(str(item) for item in values.get("select") or ())
    values["splits"] = {str(k): int(v) for k, v in (values.get("splits") or {}).items()}
    values["decoded_sha256"] = dict(values.get("decoded_sha256") or {})
    values["files"] = tuple(_parse_official_file(item, path, i)
                            for i, item in enumerate(values.get("files") or []))
    if not values["files"]:
        raise DataError(f"Manifest {path}: official lists no files.")
    return OfficialSource(**values)


def _parse_official_file(raw: Any, path: Path, i: int) -> OfficialFile:
    values = _check_keys(raw, OfficialFile, path, f"official.files[{i}]")
    values["splits"] = tuple(str(s) for s in values.get("splits") or ())
    values["member_sha256"] = {str(k): str(v)
                               for k, v in (values.get("member_sha256") or {}).items()}
    values["options"] = dict(values.get("options") or {})
    item = OfficialFile(**values)
    if not (item.md5 or item.sha256 or item.member_sha256 or item.unverified):
        raise DataError(
            f"Manifest {path}: official file {item.url} needs an md5 or a sha256, "
            f"sha256 of its members, or an 'unverified' sentence saying why none is known.")
    return item


def _check_splits(manifest: Manifest, path: Path) -> None:
    if manifest.mirror is None and manifest.official is None:
        raise DataError(f"Manifest {path} needs a mirror or an official source.")
    select = manifest.official.select if manifest.official else ()
    if select and len(select) != len(manifest.classes):
        raise DataError(
            f"Manifest {path}: official.select keeps {len(select)} classes but classes "
            f"lists {len(manifest.classes)}; give one class id per class, in label order."
        )
    official = manifest.official
    for item in official.files if official else ():
        wrong = [s for s in item.splits if s not in manifest.splits]
        if wrong:
            raise DataError(f"Manifest {path}: official file {item.url} has splits {wrong}, "
                            f"expected some of the splits {sorted(manifest.splits)}.")
    if official and set(official.splits) - set(manifest.splits):
        raise DataError(f"Manifest {path}: official.splits names splits that splits "
                        f"does not: {sorted(set(official.splits) - set(manifest.splits))}.")
    for item in manifest.mirror.files if manifest.mirror else ():
        if item.split not in manifest.splits:
            raise DataError(
                f"Manifest {path}: mirror file {item.path} has split {item.split!r}, "
                f"expected one of the splits {sorted(manifest.splits)}."
            )


def _require_mapping(raw: Any, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DataError(
            f"Manifest {path}: {where} must be a mapping (key: value lines), "
            f"got {type(raw).__name__}."
        )
    return raw


def _check_keys(
    raw: Any, cls: type, path: Path, where: str, skip: Collection[str] = ()
) -> dict[str, Any]:
    """Return `raw` as a dict; reject unknown (typos) and missing keys of `cls`."""
    raw = _require_mapping(raw, path, where)
    allowed = {f.name for f in fields(cls)} - set(skip)
    required = {
        f.name
        for f in fields(cls)
        if f.default is MISSING and f.default_factory is MISSING
    }
    unknown = set(raw) - allowed
    missing = required - set(raw)
    if unknown or missing:
        raise DataError(
            f"Manifest {path}, {where}: unknown keys {sorted(unknown)}, missing keys "
            f"{sorted(missing)}. Allowed keys: {sorted(allowed)}; required: "
            f"{sorted(required)}."
        )
    return dict(raw)
