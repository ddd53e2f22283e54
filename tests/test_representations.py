"""Judging embeddings: embedding a split, nearest class mean, k-NN, t-SNE."""

import numpy as np
import pytest
import torch
from torch import nn

from coursekit import models
from coursekit.models import EmbeddingNet
from coursekit.tasks import representations


class Split:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels


def test_embed_runs_the_named_part_in_eval_mode_with_the_fit_statistics():
    net = EmbeddingNet(nn.Sequential(nn.Flatten(), nn.Dropout(0.9)), 4, embed_dim=2,
                       num_classes=2)
    models.set_input_norm(net, torch.zeros(1), torch.ones(1))
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


def test_separation_ratio_is_high_for_clusters_and_one_for_a_collapse():
    torch.manual_seed(0)
    centres = torch.eye(4) * 5
    labels = torch.arange(4).repeat_interleave(10)
    clustered = centres[labels] + 0.1 * torch.randn(40, 4)
    assert representations.separation_ratio(clustered, labels) > 5
    mixed = torch.randn(40, 4)
    assert abs(representations.separation_ratio(mixed, labels) - 1) < 0.2
    assert representations.separation_ratio(torch.ones(40, 4), labels) == 1.0
    assert representations.separation_ratio(clustered[:1], labels[:1]) == 1.0


def test_accuracy_gain_reads_the_last_epoch_against_an_earlier_one():
    assert representations.accuracy_gain([10.0, 20.0, 26.0, 27.0], since=2) == 7.0
    assert representations.accuracy_gain([10.0, 12.0], since=1) == 2.0
    assert np.isnan(representations.accuracy_gain([10.0, 12.0], since=2))
    assert np.isnan(representations.accuracy_gain([], since=1))


def test_classes_at_zero_counts_classes_never_right():
    assert representations.classes_at_zero([0.0, 12.5, 0.0, 100.0]) == 2
    assert representations.classes_at_zero([1.0, 2.0]) == 0


def test_reconstruction_error_of_a_perfect_and_a_mean_answer():
    from coursekit import models
    images = torch.randint(0, 256, (6, 1, 4, 4), dtype=torch.uint8)
    split = Split(images, torch.zeros(6, dtype=torch.long))
    identity = torch.nn.Identity()
    assert representations.reconstruction_mse(identity, split) < 1e-10
    assert representations.mean_image_mse(split, split) > 0
    auto = models.MLPAutoencoder(16, hidden=(8,), code_dim=4)
    assert representations.reconstruct(auto, split).shape == images.shape
    assert 0 < representations.reconstruction_mse(auto, split) < 1


def test_conv_encoder_gives_a_code_per_image():
    from coursekit import models
    net = models.EncoderClassifier(models.conv_encoder(64, code_dim=128), 128, 10)
    assert net(torch.rand(3, 1, 64, 64)).shape == (3, 10)


def test_without_shortcuts_keeps_the_layers_and_drops_the_sums():
    from coursekit import models
    torch.manual_seed(0)
    net = models.build_model("resnet18_ce", width=0.125)
    plain = models.without_shortcuts(models.build_model("resnet18_ce", width=0.125))
    assert models.count_parameters(plain) < models.count_parameters(net)
    x = torch.rand(2, 3, 32, 32)
    assert plain.eval()(x).shape == net.eval()(x).shape
