"""Metric-learning losses and the networks and objectives that use them (chapter C4),
and the autoencoder of chapter C3."""

import itertools
import math

import pytest
import torch
from torch import nn

from coursekit import training
from coursekit.models import EmbeddingNet, EncoderClassifier, MLPAutoencoder
from coursekit.training import losses


def brute_force_batch_hard(embeddings, labels, margin):
    """Every anchor's hardest positive and negative by looping over all pairs."""
    per_anchor = []
    for a in range(len(labels)):
        pos = [torch.dist(embeddings[a], embeddings[p]) for p in range(len(labels))
               if p != a and labels[p] == labels[a]]
        neg = [torch.dist(embeddings[a], embeddings[n]) for n in range(len(labels))
               if labels[n] != labels[a]]
        if pos and neg:
            per_anchor.append(max(0.0, float(max(pos) - min(neg)) + margin))
    return sum(per_anchor) / len(per_anchor)


def test_batch_hard_picks_the_farthest_positive_and_the_nearest_negative():
    # Class 0 at 0, 1 and 5 on a line, class 1 at 2 and 10. For anchor 0 the hardest
    # positive is 5 (distance 5) and the hardest negative 2 (distance 2): 5 - 2 + 1 = 4.
    points = torch.tensor([[0.0], [1.0], [5.0], [2.0], [10.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    hardest = [5 - 2 + 1, 4 - 1 + 1, 5 - 3 + 1, 8 - 1 + 1, 8 - 5 + 1]
    assert losses.batch_hard_triplet_loss(points, labels, margin=1.0).item() == \
        pytest.approx(sum(hardest) / 5)
    gen = torch.Generator().manual_seed(0)
    cloud = torch.randn(24, 5, generator=gen)
    classes = torch.randint(0, 4, (24,), generator=gen)
    assert losses.batch_hard_triplet_loss(cloud, classes, margin=0.3).item() == \
        pytest.approx(brute_force_batch_hard(cloud, classes, 0.3), rel=1e-5)


def test_hard_negative_mining_is_report_cs_every_positive_with_its_nearest_negative():
    gen = torch.Generator().manual_seed(1)
    cloud = torch.randn(16, 4, generator=gen)
    classes = torch.cat([torch.randint(0, 3, (15,), generator=gen), torch.tensor([3])])
    # class 3 has one image: it anchors no pair, but is everyone else's negative
    per_pair = []
    for a, p in itertools.permutations(range(16), 2):
        if classes[a] == classes[p]:
            nearest = min(float(torch.dist(cloud[a], cloud[n])) ** 2
                          for n in range(16) if classes[n] != classes[a])
            per_pair.append(max(0.0, float(torch.dist(cloud[a], cloud[p])) ** 2 - nearest + 0.4))
    assert losses.hard_negative_triplet_loss(cloud, classes, margin=0.4).item() == \
        pytest.approx(sum(per_pair) / len(per_pair), rel=1e-5)
    for labels in (torch.tensor([0, 1, 2]), torch.tensor([0, 0, 0])):  # no pair; no negative
        with pytest.raises(ValueError, match="larger batch"):
            losses.hard_negative_triplet_loss(torch.zeros(3, 2), labels)


def test_hard_negative_loss_of_a_collapse_is_the_margin_with_finite_gradients():
    points = torch.zeros(6, 3, requires_grad=True)
    loss = losses.hard_negative_triplet_loss(points, torch.tensor([0, 0, 0, 1, 1, 1]), margin=0.2)
    assert loss.item() == pytest.approx(0.2)
    loss.backward()
    assert torch.isfinite(points.grad).all()


def test_batch_all_on_squared_distances():
    e = torch.tensor([[0.0], [1.0], [3.0], [3.5]])
    # the violating triplets (anchor, positive, negative): (1, 0, 3.0) 1 - 4 + 4 = 1 and
    # (3.0, 3.5, 1) .25 - 4 + 4 = .25; the other six are below 0
    assert losses.batch_all_triplet_loss(e, torch.tensor([0, 0, 1, 1]), margin=4.0,
                                         squared=True).item() == pytest.approx((1 + 0.25) / 2)


def test_batch_all_averages_every_violating_triplet():
    gen = torch.Generator().manual_seed(2)
    cloud = torch.randn(12, 3, generator=gen)
    classes = torch.randint(0, 3, (12,), generator=gen)
    violations = []
    for a, p, n in itertools.product(range(12), repeat=3):
        if a != p and classes[a] == classes[p] and classes[n] != classes[a]:
            value = float(torch.dist(cloud[a], cloud[p]) - torch.dist(cloud[a], cloud[n])) + 0.5
            if value > 0:
                violations.append(value)
    assert losses.batch_all_triplet_loss(cloud, classes, margin=0.5).item() == \
        pytest.approx(sum(violations) / len(violations), rel=1e-5)
    with pytest.raises(ValueError, match="mining must be one of 'hard_negative', 'hard', 'all'"):
        losses.triplet_objective(mining="semi-hard")
    for mining in ("all", "hard_negative"):  # the soft margin is batch-hard's alone
        with pytest.raises(ValueError, match="need a margin"):
            losses.triplet_objective(margin=None, mining=mining)


def test_batch_hard_ignores_lonely_anchors_has_finite_gradients_and_refuses_bad_batches():
    points = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    loss = losses.batch_hard_triplet_loss(points, torch.tensor([0, 0, 1]), margin=1.0)
    assert loss.item() == pytest.approx(0.0)  # the lonely class-1 anchor is left out
    loss.backward()
    assert torch.isfinite(points.grad).all()
    with pytest.raises(ValueError, match="larger batch"):
        losses.batch_hard_triplet_loss(torch.zeros(3, 2), torch.tensor([0, 1, 2]))


def test_center_loss_pulls_centres_to_their_class_means():
    embeddings = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, -2.0]])
    labels = torch.tensor([0, 0, 1])
    center = losses.CenterLoss(num_classes=2, dim=2)
    optimizer = torch.optim.SGD(center.parameters(), lr=0.5)
    for _ in range(200):
        optimizer.zero_grad()
        center(embeddings, labels).backward()
        optimizer.step()
    assert torch.allclose(center.centers, torch.tensor([[2.0, 0.0], [0.0, -2.0]]), atol=1e-4)


class Toy:
    """Two classes of 8x8 one-channel images: bright top half or bright bottom half."""

    def __init__(self, n=64, seed=0):
        gen = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(n) % 2
        images = torch.randint(0, 60, (n, 1, 8, 8), generator=gen)
        for i, y in enumerate(self.labels):
            images[i, :, :4] += 150 if y == 0 else 0
            images[i, :, 4:] += 150 if y == 1 else 0
        self.images = images.to(torch.uint8)


def small_net(head):
    return EmbeddingNet(nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU()), 16,
                        embed_dim=4, num_classes=2, head=head)


def test_triplet_and_center_objectives_train_through_fit():
    data = Toy()
    recipe = dict(num_epochs=15, batch_size=16, lr=0.01, verbose=False)
    triplet = small_net("centres")
    history = training.fit(triplet, data, data, loss_fn=losses.triplet_objective(margin=0.5),
                           **recipe)
    assert history.train_acc[-1] > 90 and history.val_acc[-1] > 90
    centred = small_net("linear")
    centred.center_loss = losses.CenterLoss(2, 4)
    before = centred.center_loss.centers.detach().clone()
    history = training.fit(centred, data, data, loss_fn=losses.center_objective(0.1), **recipe)
    assert history.val_acc[-1] > 90
    assert not torch.equal(before, centred.center_loss.centers)  # the optimizer moved them


def test_autoencoder_learns_to_reconstruct_and_its_classifier_can_end_in_a_relu():
    data = Toy()
    model = MLPAutoencoder(64, hidden=(32,), code_dim=8)
    history = training.fit(model, data, None, loss_fn=losses.reconstruction_objective(),
                           num_epochs=30, batch_size=16, lr=3e-3, normalize=False,
                           verbose=False)
    assert math.isnan(history.train_acc[-1])
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert str(model.encoder).count("Linear") == 2 and str(model.decoder).endswith(
        "(3): Sigmoid()\n)")
    clipped = EncoderClassifier(model.encoder, code_dim=8, num_classes=2, final_relu=True)
    assert (clipped(torch.randn(5, 1, 8, 8)) >= 0).all()
