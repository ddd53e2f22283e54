"""Character-level names: encoding, the reports' RNN cell, training and sampling."""

import math

import pytest
import torch

from coursekit import chars, lm
from coursekit.models import Bigram, build_model


def toy_names():
    """Two 'languages' whose names are fully predictable from their first letter."""
    names = ["abab", "abba", "ab"] * 20 + ["cdcd", "cd", "cddc"] * 20
    return names, [0] * 60 + [1] * 60


def test_encoding_shifts_targets_and_refuses_unknown_characters():
    vocab = chars.CharVocab.build(["emma", "ava"])
    encoded = chars.encode_names(["ava"], vocab)
    assert vocab.text(encoded.inputs[0, 1:].tolist()) == "ava"
    assert encoded.targets[0].tolist() == vocab.ids("ava") + [0]
    with pytest.raises(ValueError, match=r"characters \['z'\] are not in the vocabulary"):
        vocab.ids("zeva")
    with pytest.raises(ValueError, match="boundary token"):
        chars.CharVocab(["a", "."])


def test_training_beats_the_bigram_and_language_conditioning_is_used():
    names, langs = toy_names()
    vocab = chars.CharVocab.build(names)
    data = chars.encode_names(names, vocab, langs)
    bigram = Bigram(len(vocab), num_categories=2).fit(data.inputs, data.targets,
                                                      data.categories)
    model = build_model("char_gru", vocab_size=len(vocab), num_categories=2)
    untrained = lm.nll(model, data)
    assert untrained == pytest.approx(math.log(len(vocab)), rel=0.15)
    history = lm.fit_lm(model, data, data, num_epochs=15, batch_size=32, lr=0.01,
                        verbose=False)
    assert history.val_nll[-1] < lm.nll(bigram, data) < untrained
    swapped = chars.EncodedNames(data.inputs, data.targets, 1 - data.categories)
    assert lm.nll(model, swapped) > history.val_nll[-1] + 0.3


def test_sampling_is_seeded_respects_the_start_and_the_temperature():
    names, langs = toy_names()
    vocab = chars.CharVocab.build(names)
    data = chars.encode_names(names, vocab, langs)
    model = build_model("tutorial_rnn", vocab_size=len(vocab), hidden_size=16,
                        num_categories=2)
    lm.fit_lm(model, data, data, num_epochs=20, batch_size=16, lr=0.01, verbose=False)

    def draw(**kwargs):
        return lm.sample(model, vocab, num=20, generator=torch.Generator().manual_seed(1),
                         **kwargs)

    assert draw(category=1) == draw(category=1)
    assert all(name.startswith("c") for name in draw(category=1, start="c"))
    cold = draw(category=0, start="a", temperature=0.1)
    assert set(cold) <= {"abab", "abba", "ab"}
    with pytest.raises(ValueError, match="temperature must be positive"):
        draw(temperature=0)
