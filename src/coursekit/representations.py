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

import numpy as np
import torch
from torch import Tensor, nn

from coursekit.loader import LabelledImages
from coursekit.models.embedding import NearestCentre
from coursekit.train import predict

__all__ = ["centre_scores", "embed", "knn_predict", "tsne_2d"]


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
    norm = getattr(model, "coursekit_norm", (None, None))
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
