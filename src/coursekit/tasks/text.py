"""Text for the text chapters: cleaning pipelines, tokens and vocabularies.

Report C (chapter C1) cleans a review in five steps: lower case, punctuation
``/(){}[]|@,;`` to spaces, every character but ``0-9a-z #+_`` dropped, digits dropped,
stop words dropped. ``clean_steps`` returns the text after each step, so a chapter can
show the pipeline on one example; ``clean`` applies it to a whole column.

Report B (chapter B3) cleans a tweet its own way: lower case, emojis out, @handles out,
special characters out, stop words out (``REPORT_B_STEPS``).

Reports B and C used NLTK's English stop words, which need a download; we use
scikit-learn's list (318 words, NLTK's 179 among the common ones), installed with the
library.

``tokenize`` splits text into lower-case words; a ``Vocabulary`` maps the most frequent
words to ids (0 = padding, 1 = unknown) and ``encode`` turns texts into a padded id
tensor plus true lengths, so recurrent models never read the padding;
``encode_splits`` does it for every split of a chapter at once.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

__all__ = ["LabelledTexts", "PAD", "REPORT_B_STEPS", "REPORT_C_STEPS", "STOP_WORDS", "UNK",
           "Vocabulary", "clean", "clean_steps", "encode", "encode_splits", "imdb_reviews",
           "imdb_splits", "label_share", "recalls_of", "sentiment_measures", "tokenize",
           "tweet_results"]

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)

_TO_SPACE = re.compile(r"[/(){}\[\]|@,;]")
_NOT_KEPT = re.compile(r"[^0-9a-z #+_]")
_DIGITS = re.compile(r"[0-9]+")


def _drop_stop_words(text: str) -> str:
    return " ".join(word for word in text.split() if word not in STOP_WORDS)


REPORT_C_STEPS: list[tuple[str, Callable[[str], str]]] = [
    ("lower case", str.lower),
    ("/(){}[]|@,; to spaces", lambda t: _TO_SPACE.sub(" ", t)),
    ("keep only 0-9 a-z space # + _", lambda t: _NOT_KEPT.sub("", t)),
    ("drop digits", lambda t: _DIGITS.sub("", t)),
    ("drop stop words", _drop_stop_words),
]


_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u200d\ufe0f]")
_HANDLE = re.compile(r"@\w+")
_SPECIAL = re.compile(r"[^a-z0-9\s]")

REPORT_B_STEPS: list[tuple[str, Callable[[str], str]]] = [
    ("lower case", str.lower),
    ("emojis out", lambda t: _EMOJI.sub(" ", t)),
    ("@handles out", lambda t: _HANDLE.sub(" ", t)),
    ("special characters to spaces", lambda t: _SPECIAL.sub(" ", t)),
    ("drop stop words", _drop_stop_words),
]


def clean_steps(text: str, steps: list[tuple[str, Callable[[str], str]]] = REPORT_C_STEPS
                ) -> list[tuple[str, str]]:
    """The text before and after each step, as (step name, text) pairs.

    >>> for step, text in clean_steps("The movie is good, I loved the movie. "
    ...                               "Will audience like it?!!"):
    ...     print(f"{step:30} {text}")
    raw text                       The movie is good, I loved the movie. Will audience like it?!!
    lower case                     the movie is good, i loved the movie. will audience like it?!!
    /(){}[]|@,; to spaces          the movie is good  i loved the movie. will audience like it?!!
    keep only 0-9 a-z space # + _  the movie is good  i loved the movie will audience like it
    drop digits                    the movie is good  i loved the movie will audience like it
    drop stop words                movie good loved movie audience like
    """
    shown = [("raw text", text)]
    for name, step in steps:
        text = step(text)
        shown.append((name, text))
    return shown


def clean(texts: Iterable[str], steps: list[tuple[str, Callable[[str], str]]] = REPORT_C_STEPS
          ) -> list[str]:
    """Every text through every step (report C's pipeline by default)."""
    cleaned = []
    for text in texts:
        for _, step in steps:
            text = step(text)
        cleaned.append(text)
    return cleaned


PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z0-9#+_']+")


def tokenize(text: str) -> list[str]:
    """Lower-case words (letters, digits, ``#+_'``); everything else separates them.

    >>> tokenize("Don't PANIC: it's 42!")
    ["don't", 'panic', "it's", '42']
    """
    return _WORD.findall(text.lower())


class Vocabulary:
    """The ``max_size`` most frequent words of a corpus, with ids; 0 and 1 are
    padding and unknown words, so ``len(vocab)`` is ``max_size + 2`` at most.

    >>> vocab = Vocabulary.build([["a", "b", "a"], ["a", "c"]], max_size=2)
    >>> vocab.words, vocab.ids(["a", "c", "zzz"])
    (['<pad>', '<unk>', 'a', 'b'], [2, 1, 1])
    >>> round(vocab.coverage([["a", "b", "c", "d"]]), 2)
    0.5
    """

    def __init__(self, words: Sequence[str]) -> None:
        self.words = [PAD, UNK, *words]
        self.index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], *, max_size: int | None = None,
              min_count: int = 1) -> "Vocabulary":
        """Count every token; keep the most frequent (ties: first seen first)."""
        counts = Counter(token for tokens in token_lists for token in tokens)
        kept = [w for w, c in counts.most_common(max_size) if c >= min_count]
        return cls(kept)

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, tokens: Iterable[str]) -> list[int]:
        return [self.index.get(token, 1) for token in tokens]

    def coverage(self, token_lists: Iterable[list[str]]) -> float:
        """Share of the tokens that are in the vocabulary (not unknown)."""
        known = total = 0
        for tokens in token_lists:
            total += len(tokens)
            known += sum(token in self.index for token in tokens)
        return known / max(total, 1)


def encode(token_lists: Sequence[list[str]], vocab: Vocabulary, *, max_len: int,
           keep: str = "first") -> tuple[torch.Tensor, torch.Tensor]:
    """Ids (N, max_len), padded with 0 after the text, and each text's length (N,).

    A text longer than ``max_len`` keeps its first ``max_len`` tokens, or its last with
    ``keep="last"`` (what Keras's ``pad_sequences`` keeps by default, as report C did);
    an empty text gets length 1 (one padding token) so that a model can still read it.

    >>> ids, lengths = encode([["a", "b"], ["b"]], Vocabulary(["a", "b"]), max_len=3)
    >>> ids.tolist(), lengths.tolist()
    ([[2, 3, 0], [3, 0, 0]], [2, 1])
    >>> encode([["a", "b", "a"]], Vocabulary(["a", "b"]), max_len=2, keep="last")[0].tolist()
    [[3, 2]]
    """
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    ids = torch.zeros(len(token_lists), max_len, dtype=torch.long)
    lengths = torch.ones(len(token_lists), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        kept = vocab.ids(tokens[:max_len] if keep == "first" else tokens[-max_len:])
        if kept:
            ids[row, :len(kept)] = torch.tensor(kept)
            lengths[row] = len(kept)
    return ids, lengths


@dataclass
class LabelledTexts:
    """One split of a text dataset, ready for ``training.fit``: padded ``ids`` (N, T),
    true ``lengths`` (N,) and ``labels`` (N,), plus the ``tokens`` they came from."""

    ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    tokens: list[list[str]]

    def __len__(self) -> int:
        return len(self.labels)


def encode_splits(tokens: dict[str, list[list[str]]], labels: dict[str, Sequence[int]],
                  vocab: Vocabulary, *, max_len: int, keep: str = "first"
                  ) -> dict[str, LabelledTexts]:
    """``encode`` every split, e.g. {"train": ..., "val": ..., "test": ...}."""
    splits = {}
    for name, token_lists in tokens.items():
        ids, lengths = encode(token_lists, vocab, max_len=max_len, keep=keep)
        splits[name] = LabelledTexts(ids, lengths, torch.tensor(labels[name], dtype=torch.long),
                                     token_lists)
    return splits


def label_share(labels: Iterable[int], label: int = 1) -> float:
    """Percentage of ``labels`` equal to ``label`` (e.g. the positive reviews of IMDB);
    NaN for no labels.

    >>> label_share([1, 0, 1, 1], 1)
    75.0
    """
    values = list(labels)
    return 100.0 * sum(1 for v in values if v == label) / len(values) if values else math.nan


# ----------------------------------------------------------------------------------
# Measures report B's airline-tweet claims are checked on (chapter B3)


def sentiment_measures(results, histories: dict, recalls) -> "pd.DataFrame":
    """``results`` (indexed by variant) with what report B's tweet claims read:
    ``train_val_gap`` and ``train_test_gap`` (points), ``recall_<class>`` for every
    column of ``recalls`` (see :func:`coursekit.tasks.findings.class_recalls`),
    ``best_recall_class`` (the class name with the highest recall), ``train_acc_gain``
    (last epoch's running training accuracy minus the first's) and ``val_acc_spread``
    (max - min of the per-epoch validation accuracy) from each variant's ``History``."""
    import pandas as pd

    from coursekit.tasks import findings
    out = findings.add_gaps(results)
    for name in recalls.columns:
        out[f"recall_{name}"] = recalls[name]
    out["best_recall_class"] = recalls.idxmax(axis=1)
    out["train_acc_gain"] = pd.Series({n: h.train_acc[-1] - h.train_acc[0]
                                       for n, h in histories.items()})
    out["val_acc_spread"] = pd.Series({n: max(h.val_acc) - min(h.val_acc)
                                       for n, h in histories.items()})
    return out


def tweet_results(runs, test_data, classes: list[str]) -> "pd.DataFrame":
    """What B3 measures of one seed's ``VariantRuns``, one row per variant: the scores
    of ``runs.scored`` (macro precision, recall, F1), ``f1_weighted`` (report B's F1,
    weighted by class size), ``best_val_acc`` (the best epoch's) and the columns of
    :func:`sentiment_measures`."""
    import pandas as pd

    from coursekit.tasks import findings
    from coursekit.training import metrics
    results = runs.scored(test_data)
    predicted = runs.predictions(test_data)
    results["f1_weighted"] = pd.Series({
        n: metrics.classification_summary(test_data.labels, p, average="weighted")["f1"]
        for n, p in predicted.items()})
    results["best_val_acc"] = pd.Series({n: max(h.val_acc) for n, h in runs.histories.items()})
    recalls = findings.class_recalls(predicted, test_data.labels, classes)
    return sentiment_measures(results, runs.histories, recalls)


def recalls_of(results, classes: list[str]) -> "pd.DataFrame":
    """The ``recall_<class>`` columns of ``results`` as a variant x class table (e.g. of
    the means over seeds), for :func:`coursekit.tasks.findings.min_recall_gain`.

    >>> import pandas as pd
    >>> recalls_of(pd.DataFrame({"recall_x": [80.0], "recall_y": [60.0]}, index=["a"]),
    ...            ["x", "y"]).loc["a"].to_dict()
    {'x': 80.0, 'y': 60.0}
    """
    return results[[f"recall_{name}" for name in classes]].set_axis(classes, axis=1)


def imdb_reviews() -> "pd.DataFrame":
    """IMDB's 50,000 reviews (``text``, ``label``), its own train and test halves pooled."""
    import pandas as pd

    from coursekit import data
    return pd.concat(data.load_table("imdb").values(), ignore_index=True)[["text", "label"]]


def imdb_splits(reviews: "pd.DataFrame | None" = None, *, num_train: int, num_val: int,
                num_test: int, seed: int) -> dict[str, "pd.DataFrame"]:
    """``reviews`` (default :func:`imdb_reviews`) in stratified random splits as report C
    drew them: ``num_val`` and ``num_test`` reviews, and ``num_train`` for training (0:
    all the rest)."""
    from coursekit import data
    if reviews is None:
        reviews = imdb_reviews()
    sizes = {"train": num_train or len(reviews) - num_val - num_test, "val": num_val,
             "test": num_test}
    return data.split_frame(reviews, sizes, seed=seed)
