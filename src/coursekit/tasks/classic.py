"""Classic text classifiers with scikit-learn: bag-of-words features and a classifier.

Report C's baselines (chapter C1): multinomial naive Bayes on word counts and on
TF-IDF weights, and a decision tree on TF-IDF weights. Each is one scikit-learn
``Pipeline`` from cleaned text to a label, so fitting, predicting and inspecting use
scikit-learn's own interface.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.tree import DecisionTreeClassifier

from coursekit.training import metrics

__all__ = ["fit_and_score", "report_c_classifiers", "telling_words"]


def report_c_classifiers(*, max_features: int | None = None, tree_max_depth: int | None = None,
                         seed: int = 0) -> dict[str, Pipeline]:
    """Report C's three classifiers, by the names of ``reported.yaml``.

    ``max_features`` caps the vocabulary (None: every word of the training texts);
    ``tree_max_depth`` caps the tree (None: grown until its leaves are pure).
    """
    return {
        "nb_counts": make_pipeline(CountVectorizer(max_features=max_features),
                                   MultinomialNB()),
        "nb_tfidf": make_pipeline(TfidfVectorizer(max_features=max_features),
                                  MultinomialNB()),
        "tree_tfidf": make_pipeline(TfidfVectorizer(max_features=max_features),
                                    DecisionTreeClassifier(max_depth=tree_max_depth,
                                                           random_state=seed)),
    }


def fit_and_score(classifiers: dict[str, Pipeline], train: tuple[list[str], np.ndarray],
                  evaluate_on: dict[str, tuple[list[str], np.ndarray]], *,
                  summary_split: str = "test"
                  ) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Fit each pipeline on ``train`` (texts, labels) and score it on every named split.

    Returns a results table (one row per classifier: ``<split>_acc`` in %, macro
    precision, recall and F1 in % on ``summary_split``, vocabulary size, seconds to
    fit) and the predictions, ``{classifier: {split: labels}}``.
    """
    rows, predictions = {}, {}
    for name, pipeline in classifiers.items():
        start = time.perf_counter()
        pipeline.fit(*train)
        row = {"fit_s": time.perf_counter() - start,
               "vocabulary": len(pipeline[0].vocabulary_)}
        predictions[name] = {split: pipeline.predict(texts)
                             for split, (texts, _) in evaluate_on.items()}
        for split, (_, labels) in evaluate_on.items():
            row[f"{split}_acc"] = metrics.classification_summary(
                labels, predictions[name][split])["accuracy"]
        summary = metrics.classification_summary(evaluate_on[summary_split][1],
                                                 predictions[name][summary_split])
        row.update({k: summary[k] for k in ("precision", "recall", "f1")})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("classifier"), predictions


def telling_words(pipeline: Pipeline, classes: list[str], n: int = 15,
                  min_count: int = 100) -> pd.DataFrame:
    """The words whose naive Bayes log-probability differs most between two classes.

    One column per class: its ``n`` most telling words, with how many times likelier
    each is under that class than under the other. Only words seen at least
    ``min_count`` times in training count: rarer ones (names in a few reviews) top the
    list by chance.
    """
    vectorizer, bayes = pipeline[0], pipeline[-1]
    words = vectorizer.get_feature_names_out()
    log_ratio = bayes.feature_log_prob_[1] - bayes.feature_log_prob_[0]
    frequent = bayes.feature_count_.sum(axis=0) >= min_count
    order = np.argsort(np.where(frequent, log_ratio, 0.0))
    order = order[frequent[order]]
    picks = {classes[1]: order[::-1][:n], classes[0]: order[:n]}
    return pd.DataFrame({
        name: [f"{words[i]} ({np.exp(abs(log_ratio[i])):.0f}x)" for i in index]
        for name, index in picks.items()})
