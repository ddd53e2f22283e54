"""Running text for word-level language models (chapter A8): tokens, one id stream, windows.

A corpus is read line by line; every line's words are followed by ``<eos>`` (the Penn
Treebank convention), so the whole corpus becomes one stream of ids. ``windows`` cuts
that stream into non-overlapping windows of ``length + 1`` ids, the way Hugging Face's
language-modelling recipe groups texts into blocks (report A's data came from there):
a model reads a window's first ``length`` ids and is scored on each next one.
``TokenWindows`` has the ``batch``/``loss`` pair that ``training.NextToken`` and ``lm.nll`` use.
``bigram_nll`` is the count-based baseline: word pairs, interpolated with single words.
It counts only the pairs that occur; ``models.Bigram``'s dense table suits 27 letters
but would need 100 million cells for PTB's 10,000 words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from coursekit.tasks.text import UNK, Vocabulary

__all__ = ["EOS", "TokenWindows", "bigram_nll", "build_vocab", "encode_corpus", "shakespeare_tokens",
           "report_a_tokens", "stream", "whitespace_tokens", "windows"]

EOS = "<eos>"  # ends every line; id 2 of every vocabulary built here
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[^\sa-z]")


def shakespeare_tokens(line: str) -> list[str]:
    """Lower-cased words (with inner apostrophes) and single punctuation marks.

    >>> shakespeare_tokens("KING RICHARD III: 'Tis ill-done, o'er!")
    ['king', 'richard', 'iii', ':', "'", 'tis', 'ill', '-', 'done', ',', "o'er", '!']
    """
    return _WORD.findall(line.lower())


def report_a_tokens(line: str) -> list[str]:
    """The line lower-cased and split at spaces, punctuation left on its words: how
    report A's 21,949-word Shakespeare vocabulary was most likely made.

    >>> report_a_tokens("My lord, the King!")
    ['my', 'lord,', 'the', 'king!']
    """
    return line.lower().split()


def whitespace_tokens(line: str) -> list[str]:
    """The line split at spaces: Penn Treebank's text is already tokenized."""
    return line.split()


def build_vocab(token_lists: Iterable[list[str]], *, min_count: int = 1) -> Vocabulary:
    """Words seen at least ``min_count`` times, most frequent first, after <pad>, <unk>
    and <eos> (ids 0, 1, 2). A corpus's own "<unk>" (PTB has one) maps to id 1.

    >>> build_vocab([["a", "b", "a", "<unk>"]], min_count=2).words
    ['<pad>', '<unk>', '<eos>', 'a']
    """
    counted = Vocabulary.build(token_lists, min_count=min_count)
    return Vocabulary([EOS, *(w for w in counted.words[2:] if w not in (UNK, EOS))])


def stream(lines: Iterable[str], vocab: Vocabulary,
           tokenize: Callable[[str], list[str]]) -> torch.Tensor:
    """Every line's token ids followed by <eos>, as one long (T,) tensor.

    >>> vocab = Vocabulary([EOS, "to", "be"])
    >>> stream(["to be", "or not"], vocab, str.split).tolist()
    [3, 4, 2, 1, 1, 2]
    """
    eos = vocab.index[EOS]
    ids = [i for line in lines for i in (*vocab.ids(tokenize(line)), eos)]
    return torch.tensor(ids, dtype=torch.long)


def encode_corpus(splits: dict[str, list[str]], tokenize: Callable[[str], list[str]], *,
                  min_count: int = 1) -> tuple[Vocabulary, dict[str, torch.Tensor]]:
    """A vocabulary of the "train" split's words, and every split as one id stream."""
    if "train" not in splits:
        raise ValueError(f"the vocabulary is built on a 'train' split; got {list(splits)}")
    vocab = build_vocab((tokenize(line) for line in splits["train"]), min_count=min_count)
    return vocab, {name: stream(lines, vocab, tokenize) for name, lines in splits.items()}


@dataclass
class TokenWindows:
    """Windows of a token stream, (N, length + 1): the model reads ``ids[:, :-1]``
    and is scored on ``ids[:, 1:]``, every position a next word to predict."""

    ids: torch.Tensor

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, index: torch.Tensor, device: torch.device) -> "TokenWindows":
        return TokenWindows(self.ids[index].to(device))

    def loss(self, model: nn.Module) -> tuple[torch.Tensor, int]:
        """Summed cross-entropy of every next word, and the number of words."""
        logits = model(self.ids[:, :-1])
        targets = self.ids[:, 1:]
        return (nn.functional.cross_entropy(logits.transpose(1, 2), targets,
                                            reduction="sum"), targets.numel())


def windows(ids: torch.Tensor, length: int) -> TokenWindows:
    """Cut a stream into windows of ``length + 1`` ids that share their edge id, so each
    id is predicted exactly once; the stream's last, incomplete window is dropped.

    >>> windows(torch.arange(8), 3).ids.tolist()
    [[0, 1, 2, 3], [3, 4, 5, 6]]
    """
    if length < 1:
        raise ValueError(f"window length must be at least 1, got {length}")
    count = (len(ids) - 1) // length
    if count == 0:
        raise ValueError(f"a stream of {len(ids)} tokens is too short for one window "
                         f"of {length}; lower the window length")
    starts = torch.arange(count) * length
    return TokenWindows(ids[starts[:, None] + torch.arange(length + 1)])


def bigram_nll(train: torch.Tensor, evaluated: torch.Tensor, vocab_size: int, *,
               weight: float) -> float:
    """Held-out nats per token of counted word pairs, interpolated with word counts:
    p(b | a) = weight * c(a, b) / c(a) + (1 - weight) * (c(b) + 1) / (N + V).

    >>> ids = torch.tensor([0, 1, 0, 1, 0, 1])
    >>> round(bigram_nll(ids, torch.tensor([0, 1]), 2, weight=0.5), 3)  # p(1|0) = 0.75
    0.288
    """
    if not 0 <= weight < 1:
        raise ValueError(f"weight must be in [0, 1), got {weight}")
    train, evaluated = train.numpy(), evaluated.numpy()
    unigram = (np.bincount(train, minlength=vocab_size) + 1) / (len(train) + vocab_size)
    pairs, counts = np.unique(train[:-1] * vocab_size + train[1:], return_counts=True)
    firsts = np.bincount(train[:-1], minlength=vocab_size)
    asked = evaluated[:-1] * vocab_size + evaluated[1:]
    where = np.searchsorted(pairs, asked).clip(max=len(pairs) - 1)
    seen = np.where(pairs[where] == asked, counts[where], 0)
    ratio = np.divide(seen, firsts[evaluated[:-1]], out=np.zeros(len(asked)),
                      where=firsts[evaluated[:-1]] > 0)
    probs = weight * ratio + (1 - weight) * unigram[evaluated[1:]]
    return float(-np.log(probs).mean())

