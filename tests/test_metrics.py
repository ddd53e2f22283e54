"""Metrics against scikit-learn, the independent reference."""

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from coursekit.training import metrics


@pytest.fixture
def scores():
    g = torch.Generator().manual_seed(0)
    return torch.randn(200, 5, generator=g), torch.randint(0, 5, (200,), generator=g)


def test_top1_equals_sklearn_accuracy(scores):
    logits, labels = scores
    expected = 100 * skm.accuracy_score(labels, logits.argmax(1))
    assert metrics.topk_accuracy(logits, labels) == pytest.approx(expected)


def test_topk_equals_sklearn_top_k(scores):
    logits, labels = scores
    expected = 100 * skm.top_k_accuracy_score(labels, logits, k=3, labels=range(5))
    assert metrics.topk_accuracy(logits, labels, k=3) == pytest.approx(expected)
    assert metrics.topk_accuracy(logits, labels, k=5) == 100.0


def test_top1_with_tied_scores_is_the_argmax_accuracy():
    # a ReLU before the output ties many scores at 0; torch.topk orders ties
    # arbitrarily (9.5 % against argmax's 8.75 % on this draw), argmax takes the first
    g = torch.Generator().manual_seed(0)
    logits = torch.relu(torch.randint(-3, 2, (2000, 10), generator=g).float())
    labels = torch.randint(0, 10, (2000,), generator=g)
    expected = 100 * (logits.argmax(1) == labels).float().mean().item()
    assert metrics.topk_accuracy(logits, labels) == pytest.approx(expected)


def test_topk_errors_name_the_shapes(scores):
    logits, labels = scores
    with pytest.raises(ValueError, match=r"\(200, 5\) and \(199,\)"):
        metrics.topk_accuracy(logits, labels[:-1])
    with pytest.raises(ValueError, match=r"k must be in \[1, 5\], got 6"):
        metrics.topk_accuracy(logits, labels, k=6)


def test_confusion_matrix_rows_are_true_classes():
    matrix = metrics.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], num_classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_classwise_accuracy_and_table(scores):
    logits, labels = scores
    predictions = logits.argmax(1)
    classes = list("abcde")
    per_class = metrics.classwise_accuracy(labels, predictions, classes)
    recall = skm.recall_score(labels, predictions, average=None)
    assert np.allclose(per_class.to_numpy(), 100 * recall)
    table = metrics.classification_table(labels, predictions, classes)
    assert list(table.index) == [*classes, "macro avg"]
    f1 = skm.f1_score(labels, predictions, average="macro")
    assert table.loc["macro avg", "f1-score"] == pytest.approx(100 * f1)


def test_classification_summary_is_sklearn_macro(scores):
    logits, labels = scores
    predictions = logits.argmax(1)
    summary = metrics.classification_summary(labels, predictions)
    assert summary["f1"] == pytest.approx(100 * skm.f1_score(labels, predictions,
                                                             average="macro"))
    assert summary["accuracy"] == pytest.approx(100 * skm.accuracy_score(labels,
                                                                         predictions))
