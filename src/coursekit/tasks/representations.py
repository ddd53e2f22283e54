"""What a learned representation is good for (chapters C3 and C4): the embeddings of a
split, classification by nearest class centre or by k nearest neighbours, and a 2-D map.

A network trained with a metric loss has no classifier; one trained with cross-entropy
has one, but its embedding can be judged the same way. ``embed`` runs
``model.embed`` (or ``model.encoder``) over a split; ``centre_scores`` scores each
embedding by minus its squared distance to every class's mean training embedding
(``models.NearestCentre``, the triplet network's own head; higher is closer, so top-k
works as with logits); ``knn_predict`` is scikit-learn's
k-NN vote; ``tsne_2d`` is scikit-learn's t-SNE.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from coursekit.training.loader import LabelledImages
from coursekit.models.embedding import NearestCentre
from coursekit.models import input_norm
from coursekit.training import predict

__all__ = ["accuracy_gain", "centre_scores", "classes_at_zero", "embed", "knn_predict",
           "mean_image_mse", "reconstruct", "reconstruction_mse",
           "separation_ratio", "tsne_2d"]


class _Embedder(nn.Module):
    def __init__(self, model: nn.Module, part: str) -> None:
        super().__init__()
        self.model, self.part = model, part

    def forward(self, images: Tensor) -> Tensor:
        return getattr(self.model, self.part)(images)


def embed(model: nn.Module, data: LabelledImages, *, part: str = "embed",
          mean: Tensor | None = None, std: Tensor | None = None) -> Tensor:
    """``model.<part>(images)`` (N, D) for every image of ``data``, normalised as ``fit``
    normalised them (or with ``mean``/``std`` given), in eval mode, on the CPU."""
    if not hasattr(model, part):
        raise ValueError(f"{type(model).__name__} has no {part!r} to embed with")
    wrapper = _Embedder(model, part).train(model.training)  # predict restores this mode
    norm = input_norm(model)
    return predict(wrapper, data, mean=norm[0] if mean is None else mean,
                   std=norm[1] if std is None else std)


def centre_scores(train: Tensor, train_labels: Tensor, test: Tensor,
                  num_classes: int | None = None) -> Tensor:
    """-||x - mu_c||^2 (N, C) for every test embedding and class mean of ``train``.

    >>> centre_scores(torch.tensor([[0.0], [2.0], [10.0]]), torch.tensor([0, 0, 1]),
    ...               torch.tensor([[3.0]])).tolist()
    [[-4.0, -49.0]]
    """
    num_classes = num_classes or int(train_labels.max()) + 1
    head = NearestCentre(num_classes, train.shape[1]).to(train.device)
    return head.fit(train, train_labels)(test)


def knn_predict(train: Tensor, train_labels: Tensor, test: Tensor, k: int = 5) -> Tensor:
    """The majority class of each test embedding's ``k`` nearest training embeddings."""
    from sklearn.neighbors import KNeighborsClassifier
    knn = KNeighborsClassifier(n_neighbors=k).fit(train.numpy(), train_labels.numpy())
    return torch.from_numpy(knn.predict(test.numpy()))


def tsne_2d(points: Tensor, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """A 2-D t-SNE map (N, 2) of ``points`` (N, D), the same at every run for a seed."""
    from sklearn.manifold import TSNE
    perplexity = min(perplexity, (len(points) - 1) / 3)  # t-SNE needs 3 x perplexity < N
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed
                ).fit_transform(points.numpy().astype(np.float32))


def separation_ratio(embeddings: Tensor, labels: Tensor) -> float:
    """How far apart the classes lie relative to their own spread: on the embeddings
    scaled to unit length, the mean Euclidean distance between points of different
    classes over the mean distance between distinct points of one class. Above 1 when
    classes cluster; 1.0 for a collapsed embedding (every distance below 1e-6) or when
    either kind of pair is missing.

    >>> separation_ratio(torch.tensor([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]]),
    ...                  torch.tensor([0, 0, 1, 1])) > 50
    True
    """
    z = torch.nn.functional.normalize(embeddings.float(), dim=1)
    distances = torch.cdist(z, z)
    labels = torch.as_tensor(labels)
    same = labels[:, None] == labels[None, :]
    distinct = ~torch.eye(len(labels), dtype=torch.bool)
    within, between = distances[same & distinct], distances[~same]
    if distances.max() < 1e-6 or within.numel() == 0 or between.numel() == 0:
        return 1.0
    spread = within.mean()
    return float(between.mean() / spread) if spread > 0 else math.inf


def accuracy_gain(accuracies: Sequence[float], since: int) -> float:
    """Accuracy after the last epoch minus after epoch ``since`` (1-based), in points;
    NaN when the run has no epoch after ``since``.

    >>> accuracy_gain([20.0, 24.0, 25.5], since=1)
    5.5
    >>> math.isnan(accuracy_gain([20.0], since=1))
    True
    """
    if since < 1 or len(accuracies) <= since:
        return math.nan
    return float(accuracies[-1] - accuracies[since - 1])


def classes_at_zero(per_class_accuracy: Sequence[float]) -> int:
    """How many classes a classifier gets entirely wrong (class-wise accuracy 0).

    >>> classes_at_zero([41.7, 0.0, 38.0, 0.0])
    2
    """
    return int(sum(1 for a in per_class_accuracy if a == 0))


def reconstruct(model: nn.Module, data: LabelledImages) -> Tensor:
    """An autoencoder's output for every image of ``data``, fed pixels / 255 (no
    standardisation, as it was trained): pixels in [0, 1] for a sigmoid output."""
    return predict(model, data, mean=torch.zeros(1), std=torch.ones(1))


def reconstruction_mse(model: nn.Module, data: LabelledImages) -> float:
    """Mean squared error of ``model``'s reconstructions of ``data``, pixels in [0, 1]."""
    return torch.nn.functional.mse_loss(reconstruct(model, data),
                                        data.images.float() / 255).item()


def mean_image_mse(train: LabelledImages, test: LabelledImages) -> float:
    """The test error (pixels in [0, 1]) of always answering the mean training image:
    the bar a reconstruction has to clear.

    >>> from types import SimpleNamespace as S
    >>> mean_image_mse(S(images=torch.tensor([[[[0]]], [[[255]]]], dtype=torch.uint8)),
    ...                S(images=torch.tensor([[[[255]]]], dtype=torch.uint8)))
    0.25
    """
    mean = train.images.float().mean(0) / 255
    return ((test.images.float() / 255 - mean) ** 2).mean().item()



def encoder_classifiers(autoencoder: nn.Module, *, image_size: int, code_dim: int,
                        num_classes: int) -> dict[str, "Callable[[], nn.Module]"]:
    """Chapter C3's four classifiers of codes, as functions that build each afresh
    (for ``training.Variant``): a linear layer on a copy of the trained ``autoencoder``'s
    encoder, the same with report C's ReLU on the scores, a linear layer on an
    untrained encoder of the same shape, and on a small convolutional encoder."""
    from coursekit import models
    head = dict(code_dim=code_dim, num_classes=num_classes)
    pixels = image_size * image_size

    def fresh_encoder() -> nn.Module:
        return models.build_model("mlp_autoencoder", input_dim=pixels,
                                  code_dim=code_dim).encoder
    return {
        "encoder + linear": lambda: models.EncoderClassifier(
            copy.deepcopy(autoencoder.encoder), **head),
        "encoder + linear + ReLU (report C)": lambda: models.EncoderClassifier(
            copy.deepcopy(autoencoder.encoder), final_relu=True, **head),
        "untrained encoder + linear": lambda: models.EncoderClassifier(fresh_encoder(),
                                                                       **head),
        "conv encoder + linear": lambda: models.EncoderClassifier(
            models.conv_encoder(image_size, code_dim), **head)}
