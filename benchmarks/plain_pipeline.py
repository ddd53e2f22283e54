"""The tutorial pipeline the benchmarks time ``coursekit.training.fit`` against.

A Dataset of PIL images transformed one at a time with torchvision transforms v2, fed
by a DataLoader: what a PyTorch tutorial trains CIFAR-10 with. Shared by
``throughput.py`` and ``time_to_accuracy.py`` (run as scripts, so this folder is on
``sys.path``).
"""

from __future__ import annotations

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2

from coursekit import data


class PILImages(Dataset):
    """CIFAR-10 as a list of PIL images, transformed one at a time."""

    def __init__(self, split: data.ImageSplit, transform) -> None:
        self.images = [Image.fromarray(x.permute(1, 2, 0).numpy()) for x in split.images]
        self.labels = split.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def plain_transform(augment: str, mean: list[float], std: list[float]) -> v2.Compose:
    """torchvision v2 transforms equal to ``fit``'s batch augmentation ``augment``."""
    steps = {"none": [], "flip": [v2.RandomHorizontalFlip()],
             "flip_crop": [v2.RandomCrop(32, padding=4, padding_mode="reflect"),
                           v2.RandomHorizontalFlip()]}
    if augment not in steps:
        raise ValueError(f"no torchvision equivalent written for augment={augment!r}; "
                         f"choose one of {', '.join(steps)}")
    return v2.Compose([v2.ToImage(), *steps[augment],
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])


def sync(device: torch.device) -> None:
    """Wait for the GPU to finish, so a clock read after it times the work."""
    if device.type == "cuda":
        torch.cuda.synchronize()
