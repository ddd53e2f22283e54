"""Batches from uint8 images that live on the device.

``DeviceLoader`` holds a whole split as a uint8 tensor on the training device (CIFAR-10
train is 138 MB), draws a permutation per epoch and yields normalised float batches,
augmented as whole batches. No worker processes, no PIL, no per-image Python: the
approach of airbench's ``CifarLoader``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch
from torch import Tensor

from coursekit.training.augment import get_augmentation
from coursekit.training.devices import resolve_device  # noqa: F401  (its old home)

__all__ = ["DeviceLoader", "LabelledImages", "LabelledTokens", "TokenLoader", "channel_stats",
           "make_loader", "resolve_device"]


class LabelledImages(Protocol):
    """Anything with ``images`` (N, C, H, W) uint8 and ``labels`` (N,) int64 tensors."""

    images: Tensor
    labels: Tensor


class LabelledTokens(Protocol):
    """Texts as ``ids`` (N, T) int64 padded with 0, true ``lengths`` (N,), ``labels`` (N,).

    ``text.encode`` makes ``ids`` and ``lengths``; any object with the three tensors fits,
    e.g. ``types.SimpleNamespace(ids=ids, lengths=lengths, labels=labels)``.
    """

    ids: Tensor
    lengths: Tensor
    labels: Tensor


def channel_stats(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation of a uint8 (N, C, H, W) batch, in [0, 1]."""
    x = images.float().div_(255)
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))


class DeviceLoader:
    """Iterate over ``(inputs, labels)`` batches of a split held on ``device``.

    Args:
        data: the split; its uint8 images are copied to ``device`` once.
        batch_size: images per batch.
        mean, std: (C,) per-channel statistics in [0, 1] used to normalise.
        shuffle: draw a new permutation every epoch (training) or keep order (evaluation).
        augment: a name from ``coursekit.training.augment.AUGMENTATIONS``.
        drop_last: skip a last incomplete batch (keeps batch-norm statistics sane).
        channels_last: yield inputs in channels_last memory format.
        generator: random source for permutations and augmentation, on ``device``.
    """

    def __init__(self, data: LabelledImages, batch_size: int, mean: Tensor, std: Tensor,
                 *, device: torch.device, shuffle: bool = False, augment: str = "none",
                 drop_last: bool = False, channels_last: bool = False,
                 generator: torch.Generator | None = None) -> None:
        if data.images.dtype != torch.uint8 or data.images.ndim != 4:
            raise ValueError("DeviceLoader expects uint8 images of shape (N, C, H, W), "
                             f"got {data.images.dtype} {tuple(data.images.shape)}")
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.batch_size = batch_size
        self.mean = (mean * 255).to(device).view(1, -1, 1, 1)
        self.std = (std * 255).to(device).view(1, -1, 1, 1)
        self.shuffle, self.drop_last, self.channels_last = shuffle, drop_last, channels_last
        self.augment = get_augmentation(augment)
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.labels)
        order = (torch.randperm(n, device=self.images.device, generator=self.generator)
                 if self.shuffle else torch.arange(n, device=self.images.device))
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size]
            images = self.augment(self.images[index], generator=self.generator)
            inputs = images.float().sub_(self.mean).div_(self.std)  # (B, C, H, W)
            if self.channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            yield inputs, self.labels[index]


class TokenLoader:
    """Batches ``((ids, lengths), labels)`` of padded texts held on ``device``.

    The text counterpart of ``DeviceLoader``: ``fit`` and ``predict`` call
    ``model(ids, lengths)`` for these inputs. Each batch is cut to its longest text.
    When shuffling, texts of similar length share a batch: the shuffled order is cut
    into pools of ``pool`` batches, each pool sorted by length, and the batches are
    shuffled again (a "sortish" or bucket sampler). IMDB reviews at up to 200 words
    then carry about half the padding, and an epoch takes about half the time.
    """

    def __init__(self, data: LabelledTokens, batch_size: int, *, device: torch.device,
                 shuffle: bool = False, drop_last: bool = False, pool: int = 50,
                 generator: torch.Generator | None = None) -> None:
        if data.ids.dtype != torch.long or data.ids.ndim != 2:
            raise ValueError("TokenLoader expects int64 ids of shape (N, T), got "
                             f"{data.ids.dtype} {tuple(data.ids.shape)}")
        self.ids, self.labels = data.ids.to(device), data.labels.to(device)
        self.lengths = data.lengths.to(device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.pool, self.generator = pool, generator

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[tuple[Tensor, Tensor], Tensor]]:
        n, device = len(self.labels), self.ids.device
        if not self.shuffle:
            batches = list(torch.arange(n, device=device).split(self.batch_size))
        else:
            order = torch.randperm(n, device=device, generator=self.generator)
            pools = order.split(self.batch_size * max(self.pool, 1))
            order = torch.cat([p[self.lengths[p].argsort(descending=True)] for p in pools])
            batches = list(order.split(self.batch_size))
            if len(batches[-1]) < self.batch_size and self.drop_last:
                batches.pop()
            shuffled = torch.randperm(len(batches), device=device, generator=self.generator)
            batches = [batches[i] for i in shuffled.tolist()]
        for index in batches[:len(self)]:
            lengths = self.lengths[index]
            yield (self.ids[index, :int(lengths.max())], lengths), self.labels[index]


def make_loader(data, batch_size: int, mean: Tensor | None, std: Tensor | None, *,
                device: torch.device, **kwargs) -> "DeviceLoader | TokenLoader":
    """A ``TokenLoader`` for texts (data with ``ids``), else a ``DeviceLoader`` for images.

    Image-only keywords (augment, channels_last) are refused for texts.
    """
    if hasattr(data, "ids"):
        image_only = {k for k in ("augment", "channels_last") if kwargs.get(k) not in
                      (None, False, "none")}
        if image_only:
            raise ValueError(f"{', '.join(sorted(image_only))} apply to images only, "
                             "not to texts")
        kwargs.pop("augment", None), kwargs.pop("channels_last", None)
        return TokenLoader(data, batch_size, device=device, **kwargs)
    return DeviceLoader(data, batch_size, mean, std, device=device, **kwargs)
