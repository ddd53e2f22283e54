"""Image classification data as in-memory uint8 tensors, and stratified splits.

`load_images("cifar10")` returns {"train": ImageSplit, "test": ImageSplit};
`split_off` carves a validation set out of train, `subset` a small sample for
the smoke profile. Both keep the class proportions and depend only on `seed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import cache
from .errors import DataError
from .lookup import fetch, resolve_manifest
from .manifest import Manifest

__all__ = ["ImageSplit", "load_images", "split_off", "subset",
           "select_classes", "to_grayscale", "train_val_test"]


@dataclass
class ImageSplit:
    """One split of an image classification dataset, held in memory.

    Attributes:
        images: uint8 tensor (N, C, H, W), RGB, values 0..255.
        labels: int64 tensor (N,), class indices into `classes`.
        classes: class names; label i means classes[i].
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise ValueError(
                f"ImageSplit needs images (N, C, H, W) and labels (N,); got "
                f"{tuple(self.images.shape)} and {tuple(self.labels.shape)}."
            )

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (
            f"ImageSplit({len(self)} images {tuple(self.images.shape[1:])} "
            f"{self.images.dtype}, {len(self.classes)} classes)"
        )


def load_images(
    name: str,
    *,
    manifest: Manifest | None = None,
    data_dir: Path | None = None,
    mirror: str | None = None,
) -> dict[str, ImageSplit]:
    """Load every split of an image dataset as uint8 tensors.

    The first call finds, verifies and decodes the files (see `fetch`); later
    calls read the decoded cache, about a second for CIFAR-10.

    Args:
        name: dataset name, e.g. "cifar10" (splits train, test),
            "tiny_imagenet" or "tiny_imagenet_subset10" (splits train, val).
        manifest: use this instead of `load_manifest(name)`.
        data_dir: data directory; default `data_dir()`.
        mirror: mirror folder or URL; default `mirror_location()`.
    Returns:
        {split: ImageSplit}, in the manifest's split order.
    Raises:
        DatasetNotFoundError, ChecksumError, DataError: as `fetch`.
    """
    manifest = resolve_manifest(name, manifest)
    if manifest.image_shape is None or not manifest.classes:
        raise DataError(
            f"Dataset {name!r} is not an image classification dataset (its "
            f"manifest has no image_shape or classes); use its own loader."
        )
    folder = fetch(name, manifest=manifest, data_dir=data_dir, mirror=mirror)
    splits = {}
    for split in manifest.splits:
        images, labels = cache.load_arrays(folder, split)
        splits[split] = ImageSplit(
            torch.from_numpy(images), torch.from_numpy(labels), list(manifest.classes)
        )
    return splits


def split_off(
    split: ImageSplit, num_holdout: int, *, seed: int
) -> tuple[ImageSplit, ImageSplit]:
    """Split off a stratified holdout set, e.g. CIFAR-10's 5,000 validation images.

    Uses `sklearn.model_selection.train_test_split(..., stratify=labels)`, so
    each class keeps its share (up to rounding). Both parts keep the original
    order of the images.

    Args:
        split: the split to divide.
        num_holdout: number of images in the holdout part, at least the number
            of classes present and at most len(split) minus that number.
        seed: the same seed always gives the same parts.
    Returns:
        (rest, holdout), with len(rest) + len(holdout) == len(split).
    Raises:
        ValueError: if num_holdout is out of range.

    Example:
        >>> toy = ImageSplit(torch.zeros(8, 3, 2, 2, dtype=torch.uint8),
        ...                  torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), ["a", "b"])
        >>> rest, holdout = split_off(toy, 2, seed=0)
        >>> len(rest), sorted(holdout.labels.tolist())
        (6, [0, 1])
    """
    from sklearn.model_selection import train_test_split  # slow import: only here

    indices = np.arange(len(split))
    try:
        rest, holdout = train_test_split(
            indices, test_size=num_holdout, stratify=split.labels.numpy(),
            random_state=seed, shuffle=True,
        )
    except ValueError as err:
        raise ValueError(
            f"Cannot split off {num_holdout} of {len(split)} images stratified by "
            f"{len(torch.unique(split.labels))} classes: {err} Choose num_holdout "
            f"between the number of classes and len(split) minus it."
        ) from None
    return _take(split, np.sort(rest)), _take(split, np.sort(holdout))


def subset(split: ImageSplit, num: int, *, seed: int) -> ImageSplit:
    """A stratified random subset of `num` images, e.g. for the smoke profile.

    Args:
        split: the split to sample from.
        num: number of images to keep, from the number of classes to len(split).
        seed: the same seed always gives the same subset.
    Returns:
        The subset, in the original order.
    Raises:
        ValueError: if num is out of range.
    """
    if num == len(split):
        return split
    return split_off(split, num, seed=seed)[1]


def select_classes(split: ImageSplit, names: list[str]) -> ImageSplit:
    """Only the images of the named classes, relabelled 0..len(names)-1 in that order.

    Raises:
        ValueError: for a name the split does not have; the message lists its classes.
    """
    unknown = [n for n in names if n not in split.classes]
    if unknown or not names:
        raise ValueError(f"no class {', '.join(map(repr, unknown)) or '(none given)'} "
                         f"in this split; its classes are: {', '.join(split.classes)}")
    old = torch.tensor([split.classes.index(n) for n in names])
    keep = torch.isin(split.labels, old)
    new_label = torch.full((len(split.classes),), -1, dtype=torch.int64)
    new_label[old] = torch.arange(len(names))
    return ImageSplit(split.images[keep], new_label[split.labels[keep]], list(names))


def subsets(splits: dict[str, ImageSplit], sizes: dict[str, int], *,
            seed: int) -> dict[str, ImageSplit]:
    """Each split cut to a stratified subset of ``sizes[name]`` images (:func:`subset`);
    a split that ``sizes`` leaves out, or gives 0, stays whole.

    >>> import torch
    >>> toy = ImageSplit(torch.zeros(6, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 1] * 3), ["a", "b"])
    >>> {k: len(v) for k, v in subsets({"train": toy, "val": toy}, {"train": 4}, seed=0).items()}
    {'train': 4, 'val': 6}
    """
    return {name: subset(split, sizes[name], seed=seed) if sizes.get(name) else split
            for name, split in splits.items()}


def train_val_test(dataset: str, *, num_val: int, seed: int, train_subset: int = 0,
                   test_subset: int = 0, classes: str | list[str] | None = None,
                   train: str = "train", test: str = "test",
                   **load_kwargs) -> dict[str, ImageSplit]:
    """The three splits of most chapters: ``num_val`` stratified training images held
    out for validation, the dataset's ``test`` split for testing.

    ``num_val=0`` holds nothing out: all training images train, and the validation
    split is the test split, as in a report that watched its test set to pick an epoch
    (report D); a chapter that does so says it on its page.
    ``train_subset`` and ``test_subset`` (0 = all) keep stratified samples, for the
    smaller profiles. ``classes`` (a list, or a comma-separated string) keeps only
    those classes, relabelled in that order (report B's three-class setting). Other
    keywords go to ``load_images``.
    """
    splits = load_images(dataset, **load_kwargs)
    pool, test_set = splits[train], splits[test]
    if classes is not None:
        names = ([c.strip() for c in classes.split(",")] if isinstance(classes, str)
                 else list(classes))
        pool, test_set = select_classes(pool, names), select_classes(test_set, names)
    train_set, val_set = split_off(pool, num_val, seed=seed) if num_val else (pool, None)
    cut = subsets({"train": train_set, "test": test_set},
                  {"train": train_subset, "test": test_subset}, seed=seed)
    return {"train": cut["train"], "val": cut["test"] if val_set is None else val_set,
            "test": cut["test"]}


def to_grayscale(split: ImageSplit) -> ImageSplit:
    """One-channel uint8 copy of an RGB split, with ITU-R 601 luma weights
    (0.299 R + 0.587 G + 0.114 B), the formula of torchvision's ``Grayscale``.

    >>> rgb = ImageSplit(torch.full((1, 3, 2, 2), 200, dtype=torch.uint8),
    ...                  torch.zeros(1, dtype=torch.int64), ["a"])
    >>> to_grayscale(rgb).images.shape, to_grayscale(rgb).images[0, 0, 0, 0].item()
    (torch.Size([1, 1, 2, 2]), 200)
    """
    if split.images.shape[1] == 1:
        return split
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    gray = (split.images.float() * weights).sum(1, keepdim=True).round_().clamp_(0, 255)
    return ImageSplit(gray.to(torch.uint8), split.labels, split.classes)


def _take(split: ImageSplit, indices: np.ndarray) -> ImageSplit:
    index = torch.from_numpy(indices)
    return ImageSplit(split.images[index], split.labels[index], list(split.classes))
