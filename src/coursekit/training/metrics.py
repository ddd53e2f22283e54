"""Classification metrics: top-k accuracy, per-class accuracy, P/R/F1, confusion matrix.

Conventions, fixed once here: accuracies are percentages in [0, 100]; a confusion
matrix has true classes on rows and predicted classes on columns (scikit-learn's
orientation). P/R/F1 and the confusion matrix are scikit-learn's own functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from torch import Tensor

__all__ = ["classification_summary", "classwise_accuracy", "classification_table", "confident_mistakes",
           "confusion_matrix", "topk_accuracy"]


def topk_accuracy(logits: Tensor, labels: Tensor, k: int = 1) -> float:
    """Percentage of rows whose true label is among the k highest logits.

    Equal scores go to the lower class index, as ``argmax`` breaks them, so top-1 here
    is the accuracy of ``logits.argmax(1)`` even for a model that outputs ties (a ReLU
    before the output gives many rows of zeros; ``torch.topk`` orders ties arbitrarily).

    Args:
        logits: (N, C) real-valued scores.
        labels: (N,) integer class indices in [0, C).
        k: how many of the top scores count as a hit, 1 <= k <= C.
    Raises:
        ValueError: if N differs between logits and labels, or k is out of range.
    Example:
        >>> topk_accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
        50.0
        >>> topk_accuracy(torch.tensor([[0.0, 0.0, 0.0]] * 2), torch.tensor([0, 2]))
        50.0
    """
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"expected logits (N, C) and labels (N,), got "
                         f"{tuple(logits.shape)} and {tuple(labels.shape)}")
    if not 1 <= k <= logits.shape[1]:
        raise ValueError(f"k must be in [1, {logits.shape[1]}], got {k}")
    if len(labels) == 0:
        raise ValueError("topk_accuracy must have at least one example")
    top = logits.sort(dim=1, descending=True, stable=True).indices[:, :k]  # (N, k)
    hits = (top == labels[:, None]).any(dim=1)
    return 100.0 * hits.float().mean().item()


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    return skm.confusion_matrix(np.asarray(labels), np.asarray(predictions),
                                labels=list(range(num_classes)))


def classwise_accuracy(labels, predictions, classes: list[str]) -> pd.Series:
    """Accuracy (%) on each true class: the confusion matrix's diagonal over row sums."""
    matrix = confusion_matrix(labels, predictions, len(classes))
    with np.errstate(invalid="ignore"):
        return pd.Series(100.0 * matrix.diagonal() / matrix.sum(axis=1), index=classes,
                         name="accuracy (%)")


def classification_table(labels, predictions, classes: list[str]) -> pd.DataFrame:
    """Precision, recall and F1 (%) per class plus macro averages, from scikit-learn."""
    report = skm.classification_report(np.asarray(labels), np.asarray(predictions),
                                       labels=list(range(len(classes))),
                                       target_names=classes, output_dict=True,
                                       zero_division=0)
    rows = {name: report[name] for name in [*classes, "macro avg"]}
    table = pd.DataFrame(rows).T[["precision", "recall", "f1-score", "support"]]
    table[["precision", "recall", "f1-score"]] *= 100
    return table.astype({"support": int})


def classification_summary(labels, predictions, average: str = "macro") -> dict[str, float]:
    """Accuracy and precision, recall and F1 averaged over classes, all in %.

    ``average="macro"`` weighs every class alike; ``"weighted"`` by its support, as
    scikit-learn's report and several course reports give it.

    Example:
        >>> classification_summary([0, 0, 1, 1], [0, 1, 1, 1])["accuracy"]
        75.0
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        labels, predictions, average=average, zero_division=0)
    return {"accuracy": 100.0 * skm.accuracy_score(labels, predictions),
            "precision": 100.0 * precision, "recall": 100.0 * recall, "f1": 100.0 * f1}


def confident_mistakes(probabilities, labels, k: int = 5) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest confidence.

    ``probabilities`` is (N, C); a prediction is its row's largest probability.

    Example:
        >>> confident_mistakes(np.array([[.9, .1], [.4, .6], [.2, .8]]), [1, 0, 1], k=2)
        array([0, 1])
    """
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    predicted, confidence = probabilities.argmax(1), probabilities.max(1)
    wrong = np.flatnonzero(predicted != labels)
    return wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
