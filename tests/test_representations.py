"""Judging embeddings: embedding a split, nearest class mean, k-NN, t-SNE."""

import numpy as np
import pytest
import torch
from torch import nn

from coursekit import representations
from coursekit.models import EmbeddingNet


class Split:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels


def test_embed_runs_the_named_part_in_eval_mode_with_the_fit_statistics():
    net = EmbeddingNet(nn.Sequential(nn.Flatten(), nn.Dropout(0.9)), 4, embed_dim=2,
                       num_classes=2)
    net.coursekit_norm = (torch.zeros(1), torch.ones(1))
    images = torch.full((3, 1, 2, 2), 255, dtype=torch.uint8)
    first = representations.embed(net, Split(images, torch.zeros(3, dtype=torch.long)))
    again = representations.embed(net, Split(images, torch.zeros(3, dtype=torch.long)))
    assert first.shape == (3, 2) and torch.equal(first, again)  # no dropout: eval mode
    expected = net.embedding(torch.ones(3, 4))
    assert torch.allclose(first, expected.detach(), atol=1e-6)  # inputs = pixels / 255
    assert net.training
    net.eval()
    representations.embed(net, Split(images, torch.zeros(3, dtype=torch.long)))
    assert not net.training  # the mode it was in, either way
    with pytest.raises(ValueError, match="no 'encoder'"):
        representations.embed(net, Split(images, torch.zeros(3)), part="encoder")


def test_nearest_mean_and_knn_classify_separated_clusters():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    labels = torch.arange(60) % 3
    train = centres[labels] + 0.5 * torch.randn(60, 2, generator=gen)
    test = centres[labels[:30]] + 0.5 * torch.randn(30, 2, generator=gen)
    scores = representations.centre_scores(train, labels, test)
    assert scores.shape == (30, 3)
    assert torch.equal(scores.argmax(1), labels[:30])
    assert torch.equal(representations.knn_predict(train, labels, test, k=5), labels[:30])


def test_tsne_is_seeded_and_copes_with_few_points():
    points = torch.randn(12, 5, generator=torch.Generator().manual_seed(1))
    first = representations.tsne_2d(points, seed=3)
    assert first.shape == (12, 2)
    assert np.allclose(first, representations.tsne_2d(points, seed=3))
