"""Chapter A8's word models: baseline, training, scoreboard, continuations, bits per char."""

import math

import pandas as pd
import pytest
import torch

from coursekit.book import plots
from coursekit.tasks import corpus, lm, wordlm

LINES = ["the cat sat on the mat .", "the dog sat on the log ."] * 60


def toy():
    splits = {"train": LINES, "valid": LINES[:20], "test": LINES[:20]}
    return splits, *corpus.encode_corpus(splits, corpus.whitespace_tokens)


def test_held_out_cut_and_describe():
    _, vocab, ids = toy()
    cut = wordlm.held_out_cut(ids, 10)
    assert len(cut["train"]) == len(ids["train"]) and len(cut["valid"]) == 10
    assert wordlm.held_out_cut(ids, 0)["test"].equal(ids["test"])
    table = wordlm.describe({"train": torch.tensor([1, 3, 3, 1])})
    assert table.loc["words", "train"] == 4 and table.loc["unknown (%)", "train"] == 50


def test_bigram_baseline_picks_the_best_weight_on_validation():
    _, vocab, ids = toy()
    base = wordlm.bigram_baseline(ids, len(vocab), weights=(0.1, 0.9))
    assert base.weight == 0.9   # a corpus of two repeated lines: pairs are everything
    assert base.val_nll == pytest.approx(corpus.bigram_nll(ids["train"], ids["valid"],
                                                           len(vocab), weight=0.9))


def test_training_scoreboard_and_continuations():
    _, vocab, ids = toy()
    variants = list(wordlm.pair_variants(len(vocab), width_1=16, width_2=24).values())
    runs = wordlm.train_models(variants, ids, window=8, num_epochs=3, batch_size=4,
                               lr=0.02, verbose=False)
    again = wordlm.train_models(variants[1:], ids, window=8, num_epochs=3, batch_size=4,
                                lr=0.02, verbose=False)  # seeded alike, alone or second
    assert again.histories["wordmodel2"].val_loss == runs.histories["wordmodel2"].val_loss
    pair, histories = runs.trained, runs.histories
    base = wordlm.bigram_baseline(ids, len(vocab))
    board = wordlm.scoreboard(pair, histories, ids, base, window=8)
    assert list(board.index) == ["bigram", "wordmodel1", "wordmodel2"]
    assert board.loc["wordmodel1", "ppl_reduction_factor"] > 2   # it learned
    gap = 100 * abs(board.loc["wordmodel2", "test_ppl"] - board.loc["wordmodel1", "test_ppl"]) \
        / board.loc["wordmodel1", "test_ppl"]
    assert board.loc["wordmodel2", "ppl_gap_to_wordmodel1_pct"] == pytest.approx(gap)
    assert math.isnan(board.loc["bigram", "num_parameters"])
    text, measures = wordlm.continuations(pair, vocab, "The cat", num_words=6,
                                          num_samples=2, seed=1)
    assert list(text.index) == ["greedy", "sample 1", "sample 2"]
    assert text.loc["greedy", "wordmodel1"].startswith("the cat")
    assert set(measures.columns) == {"greedy_distinct_pct", "greedy_words_to_end"}
    flat = wordlm.flatten({"toy": board.join(measures)})
    assert "wordmodel1_toy" in flat.index and "greedy_distinct_pct" in flat
    wordlm.style_board(board).to_html()
    wordlm.show_text(text).to_html()
    fig = plots.plot_perplexity(histories, title="toy", reference=math.exp(base.val_nll))
    assert fig.axes


def test_continuation_measures():
    assert wordlm.continuation_measures(["his", "own", "life", "."]) == \
        {"greedy_distinct_pct": 100.0, "greedy_words_to_end": 4}
    loop = wordlm.continuation_measures(["the", ",", "the", ",", "<eos>"])
    assert loop == {"greedy_distinct_pct": 60.0, "greedy_words_to_end": 5}
    with pytest.raises(ValueError):
        wordlm.continuation_measures([])


def test_bits_per_char_scales_nats_per_token_to_the_text():
    splits, vocab, ids = toy()
    model = wordlm.pair_variants(len(vocab), width_1=8, width_2=8)["wordmodel1"].build()
    per_token = lm.nll(model, corpus.windows(ids["test"], 5))
    chars = sum(len(line) + 1 for line in splits["test"])
    assert wordlm.bits_per_char(model, ids["test"], splits["test"], window=5) == \
        pytest.approx(per_token * (len(ids["test"]) - 1) / (chars * math.log(2)))


def test_unigram_bias_makes_the_untrained_model_predict_word_frequencies():
    _, vocab, ids = toy()
    plain = wordlm.pair_variants(len(vocab), width_1=8, width_2=8)["wordmodel1"].build()
    primed = {name: variant.build() for name, variant in wordlm.pair_variants(
        len(vocab), width_1=8, width_2=8, unigram=ids["train"]).items()}
    data = corpus.windows(ids["valid"], 5)
    from coursekit.tasks import lm
    assert lm.nll(primed["wordmodel1"], data) < lm.nll(plain, data) - 0.1
    assert lm.nll(primed["wordmodel2"], data) < math.log(len(vocab))


def test_spread_windows_cover_the_whole_stream():
    windows = corpus.windows(torch.arange(101), 10)        # 10 windows
    kept = wordlm.spread_windows(windows, 4)
    assert kept.ids[:, 0].tolist() == [0, 20, 50, 70]
    assert wordlm.spread_windows(windows, 0) is windows
    assert wordlm.spread_windows(windows, 50) is windows
