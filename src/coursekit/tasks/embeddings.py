"""Pretrained word vectors for the text chapters: word2vec trained here, GloVe read.

Report C fed its BiLSTM Google's word2vec vectors and GloVe's. The GoogleNews vectors
(3.6 GB) cannot be had offline, so ``train_word2vec`` trains word2vec with gensim on
the chapter's own training texts; GloVe comes from the course mirror (see
``coursekit/data/manifests/glove_6B_50d_subset.yaml``). ``keyed_vectors`` turns GloVe's table into the same
gensim ``KeyedVectors`` (nearest neighbours for both), and ``embedding_matrix`` lines
either up with a ``text.Vocabulary`` and says which words it found.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np
import torch

from coursekit.tasks.text import Vocabulary

__all__ = ["embedding_matrix", "keyed_vectors", "train_word2vec"]


def _stable_hash(word: str) -> int:
    """gensim seeds each word's start vector with a hash; Python's changes every run."""
    return zlib.crc32(word.encode())


def train_word2vec(token_lists: Iterable[list[str]], *, dim: int = 100, window: int = 5,
                   min_count: int = 2, epochs: int = 5, seed: int = 0):
    """Word2vec vectors (gensim's default, CBOW) learned from ``token_lists``.

    One worker thread and a fixed word hash make the vectors repeat exactly for a seed.
    Returns gensim ``KeyedVectors`` (``vectors["film"]``, ``most_similar("film")``).
    """
    from gensim.models import Word2Vec
    model = Word2Vec(sentences=list(token_lists), vector_size=dim, window=window,
                     min_count=min_count, epochs=epochs, seed=seed, workers=1,
                     hashfxn=_stable_hash)
    return model.wv


def keyed_vectors(frame: "pd.DataFrame"):
    """gensim ``KeyedVectors`` from a table indexed by word, one column per dimension
    (e.g. ``data.load_table("glove_6B_50d_subset")["vectors"]``)."""
    from gensim.models import KeyedVectors
    vectors = KeyedVectors(frame.shape[1])
    vectors.add_vectors(list(frame.index), frame.to_numpy(dtype=np.float32))
    return vectors


def embedding_matrix(vocab: Vocabulary, vectors, *, seed: int = 0
                     ) -> tuple[torch.Tensor, np.ndarray]:
    """A (len(vocab), dim) matrix of ``vectors`` in vocabulary order, and a mask of the
    words found.

    ``vectors``: gensim ``KeyedVectors`` (``train_word2vec``, ``keyed_vectors``). Words
    not found start from random normal vectors with the found vectors' standard
    deviation, neither louder nor quieter than the rest; padding (id 0) is all zeros.

    Raises:
        ValueError: if no word of the vocabulary has a vector.
    """
    found = np.array([i > 1 and word in vectors.key_to_index
                      for i, word in enumerate(vocab.words)])
    if not found.any():
        raise ValueError("none of the vocabulary's words has a vector; check that the "
                         "vectors and the texts were tokenized the same way")
    known = vectors[[w for w, f in zip(vocab.words, found) if f]]
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, known.std(), (len(vocab), vectors.vector_size))
    matrix = matrix.astype(np.float32)
    matrix[found] = known
    matrix[0] = 0.0
    return torch.from_numpy(matrix), found
