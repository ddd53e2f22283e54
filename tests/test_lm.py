"""Character-level names: encoding, the reports' RNN cell, training and sampling."""

import math

import pytest
import torch

from coursekit import training
from coursekit.models import Bigram, build_model
from coursekit.tasks import chars, lm


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
    history = training.fit(model, data, data, objective=training.NextToken(), optimizer="adam", lr_schedule="linear", progress=False, num_epochs=15, batch_size=32, lr=0.01,
                        verbose=False)
    assert history.val_loss[-1] < lm.nll(bigram, data) < untrained
    swapped = chars.EncodedNames(data.inputs, data.targets, 1 - data.categories)
    assert lm.nll(model, swapped) > history.val_loss[-1] + 0.3


def test_sampling_is_seeded_respects_the_start_and_the_temperature():
    names, langs = toy_names()
    vocab = chars.CharVocab.build(names)
    data = chars.encode_names(names, vocab, langs)
    model = build_model("tutorial_rnn", vocab_size=len(vocab), hidden_size=16,
                        num_categories=2)
    training.fit(model, data, data, objective=training.NextToken(), optimizer="adam", lr_schedule="linear", progress=False, num_epochs=20, batch_size=16, lr=0.01, verbose=False)

    def draw(**kwargs):
        return lm.sample(model, vocab, num=20, generator=torch.Generator().manual_seed(1),
                         **kwargs)

    assert draw(category=1) == draw(category=1)
    assert all(name.startswith("c") for name in draw(category=1, start="c"))
    cold = draw(category=0, start="a", temperature=0.1)
    assert set(cold) <= {"abab", "abba", "ab"}
    with pytest.raises(ValueError, match="temperature must be 0"):
        draw(temperature=-1)
    greedy = draw(category=0, start="a", temperature=0)
    assert len(set(greedy)) == 1 and greedy[0] in {"abab", "abba", "ab"}
    assert lm.greedy_names(model, vocab, ["a", "c"], category=0)[0] == greedy[0]


def _fitted_bigram(names, vocab, langs=None, num_categories=0):
    data = chars.encode_names(names, vocab, langs)
    return Bigram(len(vocab), num_categories=num_categories).fit(
        data.inputs, data.targets, data.categories)


def test_greedy_names_stop_at_the_boundary_or_at_max_len():
    names = ["ab"] * 10
    vocab = chars.CharVocab.build(names + ["ba"])
    judge = _fitted_bigram(names, vocab)
    assert lm.greedy_names(judge, vocab, "a") == ["ab"]
    looping = _fitted_bigram(["abababababababababababab"] * 3, vocab)
    assert lm.greedy_names(looping, vocab, ["b"], max_len=6) == ["bababa"]
    with pytest.raises(ValueError):
        lm.greedy_names(judge, vocab, [])


def test_name_nll_matches_nll_and_sums_on_request():
    names, langs = toy_names()
    vocab = chars.CharVocab.build(names)
    judge = _fitted_bigram(names, vocab, langs, num_categories=2)
    per_name = lm.name_nll(judge, ["abab", "cd"], vocab, [0, 1])
    whole = lm.nll(judge, chars.encode_names(["abab"], vocab, [0]))
    assert per_name[0] == pytest.approx(whole, rel=1e-5)
    totals = lm.name_nll(judge, ["abab", "cd"], vocab, [0, 1], total=True)
    assert totals == pytest.approx(per_name * [5, 3], rel=1e-5)


def test_names_measures_tell_names_from_noise_and_new_from_known():
    names = ["anna", "hanna", "annabel", "nan", "bella", "ella", "hella"] * 5
    vocab = chars.CharVocab.build(names + ["zxq"])
    judge = _fitted_bigram(names, vocab)
    m = lm.names_measures(["anna", "hannella", "zxqzxq", "a", "qqqqqqqqqqqqqqqqqqqq"],
                          judge, vocab, reference=names, known=set(names))
    assert m["name_like_pct"] == pytest.approx(40)    # anna, hannella
    assert m["novel_pct"] == pytest.approx(50)        # hannella is new
    none = lm.names_measures(["zxq"], judge, vocab, reference=names, known=names)
    assert none["name_like_pct"] == 0 and math.isnan(none["novel_pct"])


def test_language_judge_and_agreement():
    names, langs = toy_names()
    vocab = chars.CharVocab.build(names)
    judge = _fitted_bigram(names, vocab, langs, num_categories=2)
    assert lm.judge_language(judge, ["abba", "cdc"], vocab, 2) == [0, 1]
    assert lm.language_agreement(judge, {0: ["ab", "abab"], 1: ["cd", "ab"]}, vocab, 2) == 75
    with pytest.raises(ValueError):
        lm.language_agreement(judge, {0: []}, vocab, 2)


def test_scoreboard_rows_for_trained_and_counted_models():
    names, langs = toy_names()
    vocab = chars.CharVocab.build(names)
    data = chars.encode_names(names, vocab, langs)
    bigram = _fitted_bigram(names, vocab, langs, num_categories=2)
    rnn = build_model("tutorial_rnn", vocab_size=len(vocab), hidden_size=8, num_categories=2)
    history = training.fit(rnn, data, data, objective=training.NextToken(), optimizer="adam", lr_schedule="linear", progress=False, num_epochs=2, batch_size=32, verbose=False)
    assert len(history.epoch_time_s) == 2
    assert sum(history.epoch_time_s) == pytest.approx(history.train_time_s)
    board = lm.scoreboard({"bigram": bigram, "rnn": rnn}, data, histories={"rnn": history})
    assert list(board.columns) == ["val_nll", "perplexity", "num_parameters", "time_s"]
    assert board.loc["bigram", "num_parameters"] == 2 * len(vocab) ** 2
    assert board.loc["bigram", "time_s"] == 0 and board.loc["rnn", "time_s"] > 0
    assert board.loc["rnn", "perplexity"] == pytest.approx(math.exp(board.loc["rnn", "val_nll"]))
