"""Pretrained word vectors: word2vec trained with gensim, GloVe-style tables."""

import numpy as np
import pandas as pd
import pytest
import torch

from coursekit.tasks import embeddings, text


def test_word2vec_learns_shared_contexts_and_repeats_for_a_seed():
    rng = np.random.default_rng(0)
    docs = [[rng.choice(["good", "great"]), "film", rng.choice(["today", "now"])]
            for _ in range(300)]
    first = embeddings.train_word2vec(docs, dim=8, min_count=1, epochs=20)
    again = embeddings.train_word2vec(docs, dim=8, min_count=1, epochs=20)
    assert np.array_equal(first.vectors, again.vectors)
    assert first.similarity("good", "great") > first.similarity("good", "today")


def test_embedding_matrix_lines_vectors_up_with_the_vocabulary():
    table = pd.DataFrame([[1.0, 2.0], [3.0, 4.0]], index=pd.Index(["film", "bad"]))
    vocab = text.Vocabulary(["bad", "plot", "film"])
    matrix, found = embeddings.embedding_matrix(vocab, embeddings.keyed_vectors(table))
    assert found.tolist() == [False, False, True, False, True]
    assert matrix[2].tolist() == [3.0, 4.0] and matrix[4].tolist() == [1.0, 2.0]
    assert matrix[0].abs().sum() == 0 and matrix[3].abs().sum() > 0
    with pytest.raises(ValueError, match="none of the vocabulary's words"):
        embeddings.embedding_matrix(text.Vocabulary(["zzz"]), embeddings.keyed_vectors(table))


def test_pretrained_vectors_start_the_embedding_and_may_stay_frozen():
    from coursekit.models import build_model
    matrix = torch.randn(12, 5)
    model = build_model("text_bilstm", vocab_size=12, embed_dim=5, pretrained=matrix,
                        freeze_embedding=True)
    assert torch.equal(model.embedding.weight, matrix)
    assert not model.embedding.weight.requires_grad
    with pytest.raises(ValueError, match=r"shape \(12, 5\), expected \(12, 6\)"):
        build_model("text_bilstm", vocab_size=12, embed_dim=6, pretrained=matrix)
