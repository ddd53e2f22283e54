"""Losses on embeddings (chapter C4, report C): the triplet loss with report C's
hardest-negative mining, batch-hard or batch-all triplets, and the center loss.

``hard_negative_triplet_loss`` is report C's: every anchor-positive pair of a batch
with the *nearest* example of another class as its negative, on squared distances
(FaceNet, Schroff et al. 2015): max(0, d(a, p)^2 - d(a, n)^2 + margin).

``batch_hard_triplet_loss`` (Hermans, Beyer and Leibe, 2017) takes every example of a
batch as an anchor, with the *farthest* example of its class as the positive and the
*nearest* example of another class as the negative: max(0, d(a, p) - d(a, n) + margin).
``batch_all_triplet_loss`` averages over every triplet that violates the margin
instead; from random weights it trains where hard mining, report C's or batch-hard,
collapses (chapter C4).
``CenterLoss`` (Wen et al., 2016) pulls each embedding towards a learned centre of its
class, 1/2 ||x - c_y||^2, and is added to cross-entropy with a weight lambda.
``triplet_objective`` and ``center_objective`` are ``training.fit``'s ``loss_fn`` for a
``models.EmbeddingNet``; ``reconstruction_objective`` trains an autoencoder with it.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from coursekit.models.embedding import CenterLoss  # a part of the model: its centres train with it

__all__ = ["CenterLoss", "batch_all_triplet_loss", "batch_hard_triplet_loss",
           "center_objective", "hard_negative_triplet_loss", "pairwise_distances",
           "reconstruction_objective", "triplet_objective"]


def pairwise_distances(embeddings: Tensor, squared: bool = False) -> Tensor:
    """Euclidean distances (N, N) between the rows of ``embeddings`` (N, D), or their
    squares with ``squared=True``; the gradient stays finite where a distance is 0."""
    square = torch.cdist(embeddings, embeddings).pow(2)
    return square if squared else square.clamp_min(1e-12).sqrt() * (square > 0)


def _triplet_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(positives, negatives)``, (N, N) masks of a batch's pairs: same class but not
    the anchor itself, and another class.

    Raises:
        ValueError: if no anchor in the batch has both a positive and a negative.
    """
    same = labels[:, None] == labels[None, :]
    positives = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    if not (positives.any(dim=1) & (~same).any(dim=1)).any():
        raise ValueError("triplets need, in one batch, two examples of a class and one "
                         "of another; use a larger batch")
    return positives, ~same


def hard_negative_triplet_loss(embeddings: Tensor, labels: Tensor, margin: float = 0.2,
                               squared: bool = True) -> Tensor:
    """Report C's triplet loss: mean over every anchor-positive pair (a, p) of a batch
    of max(0, ||a - p||^2 - ||a - n||^2 + margin), where n is the example of another
    class nearest to a ("the hardest negative example for each anchor-positive pair");
    ``squared=False`` compares plain distances. Unlike batch-hard mining, every
    positive counts, not only the farthest.

    >>> e = torch.tensor([[0.0], [1.0], [3.0], [3.5]])   # classes 0, 0, 1, 1
    >>> hard_negative_triplet_loss(e, torch.tensor([0, 0, 1, 1]), margin=4.0)  # (0+1+.25+0)/4
    tensor(0.3125)

    Raises:
        ValueError: if no anchor in the batch has both a positive and a negative.
    """
    distances = pairwise_distances(embeddings, squared)
    positives, negatives = _triplet_masks(labels)
    usable = positives & negatives.any(dim=1, keepdim=True)  # pairs whose anchor has one
    hardest_negative = distances.masked_fill(~negatives, float("inf")).min(
        dim=1, keepdim=True).values
    losses = (distances - hardest_negative + margin).clamp_min(0)
    return losses[usable].mean()


def batch_hard_triplet_loss(embeddings: Tensor, labels: Tensor,
                            margin: float | None = 0.2, squared: bool = False) -> Tensor:
    """Mean over anchors of max(0, hardest positive distance - hardest negative distance
    + margin), or of the soft margin log(1 + exp(positive - negative)) with
    ``margin=None`` (Hermans et al.'s choice: it keeps pulling after the margin is met);
    squared distances with ``squared=True``. Anchors with no other example of their
    class, or no example of another class, in the batch are left out.

    >>> e = torch.tensor([[0.0], [1.0], [3.0], [3.5]])   # classes 0, 0, 1, 1
    >>> batch_hard_triplet_loss(e, torch.tensor([0, 0, 1, 1]), margin=2.0)  # (0+1+.5+0)/4
    tensor(0.3750)

    Raises:
        ValueError: if no anchor in the batch has both a positive and a negative.
    """
    distances = pairwise_distances(embeddings, squared)
    positives, negatives = _triplet_masks(labels)
    hardest_positive = (distances * positives).max(dim=1).values
    hardest_negative = distances.masked_fill(~negatives, float("inf")).min(dim=1).values
    usable = positives.any(dim=1) & negatives.any(dim=1)
    gap = hardest_positive - hardest_negative
    losses = nn.functional.softplus(gap) if margin is None else (gap + margin).clamp_min(0)
    return losses[usable].mean()


def batch_all_triplet_loss(embeddings: Tensor, labels: Tensor, margin: float = 0.2,
                           squared: bool = False) -> Tensor:
    """Mean of max(0, d(a, p) - d(a, n) + margin) over every triplet of the batch that
    still violates the margin (Hermans et al.'s "batch all", non-zero average): every
    pair counts, not only the hardest, so overlapping classes do not pull every
    embedding onto one point as hard mining can. ``squared=True`` compares squared
    distances, as report C's loss does.

    >>> e = torch.tensor([[0.0], [1.0], [3.0], [3.5]])   # classes 0, 0, 1, 1
    >>> batch_all_triplet_loss(e, torch.tensor([0, 0, 1, 1]), margin=2.0)  # 1, .5, .5
    tensor(0.6667)

    Raises:
        ValueError: if no anchor in the batch has both a positive and a negative.
    """
    distances = pairwise_distances(embeddings, squared)
    positives, negatives = _triplet_masks(labels)
    valid = positives[:, :, None] & negatives[:, None, :]        # (anchor, pos, neg)
    losses = (distances[:, :, None] - distances[:, None, :] + margin).clamp_min(0)
    active = valid & (losses > 1e-16)
    return losses[active].sum() / active.sum().clamp_min(1)


TRIPLET_MINING = {"hard_negative": hard_negative_triplet_loss,
                  "hard": batch_hard_triplet_loss, "all": batch_all_triplet_loss}


def triplet_objective(margin: float | None = 0.2, mining: str = "hard_negative",
                      squared: bool | None = None):
    """``fit``'s loss_fn: the triplet loss with report C's hardest negative per
    anchor-positive pair (``mining="hard_negative"``, on squared distances),
    batch-hard (``"hard"``) or batch-all (``"all"``) triplets (both on plain distances),
    on the embeddings of an ``EmbeddingNet`` with a ``NearestCentre`` head, whose class
    means follow the batches so that training accuracy means something. ``squared``
    overrides the mining's own choice of distances."""
    if mining not in TRIPLET_MINING:
        raise ValueError(f"mining must be one of {', '.join(map(repr, TRIPLET_MINING))}, "
                         f"got {mining!r}")
    if mining != "hard" and margin is None:
        raise ValueError(f"{mining!r} triplets need a margin (the soft margin is batch-hard's)")
    loss = TRIPLET_MINING[mining]
    if squared is not None:
        loss = partial(loss, squared=squared)

    def objective(model: nn.Module, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        embeddings = model.embed(images)
        model.head.update(embeddings.detach(), labels)
        return loss(embeddings.float(), labels, margin), model.head(embeddings.detach())
    return objective


def center_objective(weight: float):
    """``fit``'s loss_fn: cross-entropy plus ``weight`` (lambda) times the center loss of
    ``model.center_loss`` (a ``CenterLoss`` attached to the model, so the optimizer and
    checkpoints see its centres)."""
    def objective(model: nn.Module, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        embeddings = model.embed(images)
        logits = model.head(embeddings)
        loss = nn.functional.cross_entropy(logits.float(), labels)
        return loss + weight * model.center_loss(embeddings.float(), labels), logits
    return objective


def reconstruction_objective():
    """``fit``'s loss_fn for an autoencoder: mean squared error between its output and
    its input (pixels in [0, 1]: train with ``normalize=False``); no class scores."""
    def objective(model: nn.Module, images: Tensor, labels: Tensor) -> tuple[Tensor, None]:
        return nn.functional.mse_loss(model(images).float(), images.float()), None
    return objective
