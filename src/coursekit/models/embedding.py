"""Networks that embed images (chapter C4): a backbone, a linear embedding, and a head
that turns embeddings into class scores.

``EmbeddingNet.embed`` gives the embedding a metric loss works on; ``forward`` gives
class scores, so ``training.fit`` and ``training.evaluate`` work unchanged. The head is a
linear classifier (cross-entropy, center loss) or ``NearestCentre``: scores are minus
the squared distance to each class's mean embedding, which is how a network trained
with the triplet loss alone classifies.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .resnet import BasicBlock, ResNet

__all__ = ["CenterLoss", "EmbeddingNet", "NearestCentre", "class_means", "resnet18_backbone",
           "resnet18_embedding", "without_shortcuts"]


def class_means(embeddings: Tensor, labels: Tensor, num_classes: int
                ) -> tuple[Tensor, Tensor]:
    """Mean embedding of every class (C, D) and which classes occur (C,), in one pass
    on the device (no Python loop over classes)."""
    embeddings = embeddings.float()
    sums = torch.zeros(num_classes, embeddings.shape[1], device=embeddings.device)
    sums.index_add_(0, labels, embeddings)
    counts = torch.bincount(labels, minlength=num_classes)
    return sums / counts.clamp_min(1)[:, None], counts > 0


class CenterLoss(nn.Module):
    """1/2 mean ||x_i - c_(y_i)||^2 over a batch, with one learned centre per class.

    The centres are parameters: give them to the optimizer with the model's, and they
    follow their class's embeddings (the original paper moves them with a separate rate).

    >>> loss = CenterLoss(num_classes=2, dim=2)
    >>> with torch.no_grad():
    ...     _ = loss.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    >>> loss(torch.tensor([[0.0, 2.0], [1.0, 1.0]]), torch.tensor([0, 1]))
    tensor(1., grad_fn=<MulBackward0>)
    """

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, dim) * 0.1)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return 0.5 * (embeddings - self.centers[labels]).pow(2).sum(dim=1).mean()


class NearestCentre(nn.Module):
    """Scores -||x - mu_c||^2 against one mean embedding per class (a buffer).

    ``update`` moves the means towards a batch's (a running estimate during training);
    ``fit`` sets them to the exact means of a set of embeddings.
    """

    def __init__(self, num_classes: int, dim: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("centres", torch.zeros(num_classes, dim))

    def forward(self, embeddings: Tensor) -> Tensor:
        return -torch.cdist(embeddings.float(), self.centres).pow(2)

    @torch.no_grad()
    def update(self, embeddings: Tensor, labels: Tensor) -> None:
        means, present = class_means(embeddings, labels, len(self.centres))
        weight = self.momentum * present[:, None].float()  # absent classes stay put
        self.centres.lerp_(means, weight)

    @torch.no_grad()
    def fit(self, embeddings: Tensor, labels: Tensor) -> "NearestCentre":
        means, present = class_means(embeddings, labels, len(self.centres))
        self.centres[present] = means[present]
        return self


def resnet18_backbone(in_channels: int = 3, width: float = 1.0) -> tuple[nn.Module, int]:
    """ResNet-18 with torchvision's stem (report C printed torchvision's network), untrained
    and without its last layer; and the size of its pooled features (512 x width)."""
    net = ResNet((2, 2, 2, 2), in_channels=in_channels, width=width, imagenet_stem=True)
    features = net.feature_dim
    net.fc = nn.Identity()
    return net, features


class EmbeddingNet(nn.Module):
    """backbone -> Linear(features, embed_dim) = the embedding -> head -> class scores.

    ``normalize`` puts embeddings on the unit sphere (FaceNet's choice for the triplet
    loss: distances then lie in [0, 2] and a margin such as 0.2 has a fixed meaning).

    >>> net = EmbeddingNet(nn.Flatten(), 12, embed_dim=4, num_classes=3, head="centres")
    >>> net.embed(torch.zeros(2, 3, 2, 2)).shape, net(torch.zeros(2, 3, 2, 2)).shape
    (torch.Size([2, 4]), torch.Size([2, 3]))
    """

    def __init__(self, backbone: nn.Module, feature_dim: int, embed_dim: int = 128,
                 num_classes: int = 10, head: str = "linear", normalize: bool = False) -> None:
        super().__init__()
        self.normalize = normalize
        if head not in ("linear", "centres"):
            raise ValueError(f"head must be 'linear' or 'centres', got {head!r}")
        self.backbone = backbone
        self.embedding = nn.Linear(feature_dim, embed_dim)
        self.head = (nn.Linear(embed_dim, num_classes) if head == "linear"
                     else NearestCentre(num_classes, embed_dim))

    def embed(self, images: Tensor) -> Tensor:
        """The embedding (N, embed_dim) of images (N, C, H, W)."""
        embeddings = self.embedding(self.backbone(images))
        return nn.functional.normalize(embeddings, dim=1) if self.normalize else embeddings

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.embed(images))


def resnet18_embedding(num_classes: int = 10, in_channels: int = 3, width: float = 1.0,
                       embed_dim: int = 128, head: str = "linear", center_loss: bool = False,
                       normalize: bool = False, image_size: int | None = None) -> EmbeddingNet:
    """Report C's three networks: ResNet-18, a ``embed_dim`` embedding, and a linear head
    (cross-entropy), a nearest-centre head on unit-length embeddings (``normalize``;
    triplet loss) or a linear head with a
    ``CenterLoss`` attached as ``.center_loss`` (center loss). ``width`` scales the
    channels (1.0 is the report's); ``image_size`` is ignored: global pooling takes any
    size."""
    backbone, features = resnet18_backbone(in_channels, width)
    net = EmbeddingNet(backbone, features, embed_dim, num_classes, head, normalize)
    if center_loss:
        net.center_loss = CenterLoss(num_classes, embed_dim)
    return net


class _NoShortcut(nn.Module):
    """A shortcut that adds nothing: ``relu(main path + 0)``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.new_zeros(())


def without_shortcuts(net: nn.Module) -> nn.Module:
    """``net`` with the shortcut of every ``BasicBlock`` removed (in place, returned):
    each block computes ``relu(bn2(conv2(...)))`` only, a plain network of the same
    depth and layers (the projection shortcuts' convolutions are dropped), for testing
    what skip connections do.

    >>> plain = without_shortcuts(resnet18_embedding(width=0.125))
    >>> plain(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """
    for block in net.modules():
        if isinstance(block, BasicBlock):
            block.shortcut = _NoShortcut()
    return net
