"""Word-level language modelling: id streams, windows, the word-pair baseline, report A's
two LSTMs, training and continuing a prompt."""

import math

import pytest
import torch

from coursekit import training
from coursekit.models import build_model
from coursekit.tasks import corpus, lm
from coursekit.tasks.text import Vocabulary

LINES = ["the cat sat on the mat", "the dog sat on the log"] * 40


def test_stream_ends_lines_with_eos_and_maps_unknown_words():
    vocab, ids = corpus.encode_corpus({"train": LINES, "test": ["the cow sat"]},
                                      corpus.whitespace_tokens)
    assert vocab.words[:3] == ["<pad>", "<unk>", "<eos>"] and vocab.words[3] == "the"
    assert [vocab.words[i] for i in ids["test"]] == ["the", "<unk>", "sat", "<eos>"]
    assert len(ids["train"]) == 80 * 7
    with pytest.raises(ValueError, match="'train' split"):
        corpus.encode_corpus({"valid": LINES}, corpus.whitespace_tokens)


def test_ptb_own_unk_is_the_unknown_id_not_a_second_word():
    vocab = corpus.build_vocab([["a", "<unk>", "<unk>", "<eos>"]])
    assert vocab.words == ["<pad>", "<unk>", "<eos>", "a"]


def test_windows_predict_every_token_once_and_refuse_short_streams():
    data = corpus.windows(torch.arange(11), 4)
    assert data.ids.tolist() == [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8]]
    targets = data.ids[:, 1:].flatten().tolist()
    assert targets == list(range(1, 9))
    with pytest.raises(ValueError, match="too short for one window"):
        corpus.windows(torch.arange(3), 4)
    with pytest.raises(ValueError, match="at least 1"):
        corpus.windows(torch.arange(3), 0)


def test_bigram_baseline_matches_a_hand_count():
    # Training pairs: a->b twice, b->a once; counts a:2, b:2 of 4 tokens, V = 2.
    train = torch.tensor([0, 1, 0, 1])
    p_ab = 0.5 * 2 / 2 + 0.5 * (2 + 1) / (4 + 2)
    p_ba = 0.5 * 1 / 1 + 0.5 * (2 + 1) / (4 + 2)
    expected = -(math.log(p_ab) + math.log(p_ba)) / 2
    assert corpus.bigram_nll(train, torch.tensor([0, 1, 0]), 2, weight=0.5) == \
        pytest.approx(expected)
    with pytest.raises(ValueError, match="weight"):
        corpus.bigram_nll(train, train, 2, weight=1.0)


def test_report_a_models_print_as_the_report_and_tie_weights():
    one = build_model("word_lm_1", vocab_size=21949)
    assert "Embedding(21949, 256)" in str(one)
    assert "LSTM(256, 256, num_layers=3" in str(one)
    assert one.fc.weight is one.embedding.weight
    two = build_model("word_lm_2", vocab_size=29473)
    assert "LSTM(1024, 1024, num_layers=2, batch_first=True, dropout=0.65)" in str(two)
    assert "Linear(in_features=1024, out_features=29473, bias=True)" in str(two)
    with pytest.raises(ValueError, match="embed_dim == hidden_size"):
        build_model("word_lm_1", vocab_size=10, embed_dim=8, hidden_size=16)


def test_training_learns_the_corpus_and_continuations_are_seeded():
    vocab, ids = corpus.encode_corpus({"train": LINES, "valid": LINES[:4]},
                                      corpus.whitespace_tokens)
    train_set, val_set = corpus.windows(ids["train"], 8), corpus.windows(ids["valid"], 8)
    model = build_model("word_lm_1", vocab_size=len(vocab), embed_dim=16, hidden_size=16)
    before = lm.nll(model, val_set)
    history = training.fit(model, train_set, val_set, objective=training.NextToken(), optimizer="adam", lr_schedule="linear", progress=False, num_epochs=15, batch_size=8, lr=0.02,
                        clip_grad_norm=1.0, verbose=False)
    assert len(history.step_loss) == 15 * math.ceil(len(train_set) / 8)
    # After "sat" always comes "on the"; after "the", one of four nouns: about ln 4 / 7.
    assert history.val_loss[-1] < 0.5 * before
    assert lm.continue_words(model, vocab, ["cat", "sat"], num_words=2,
                             temperature=0) == ["cat", "sat", "on", "the"]
    first = lm.continue_words(model, vocab, ["the"], num_words=12, generator=lm.seeded(3))
    again = lm.continue_words(model, vocab, ["the"], num_words=12, generator=lm.seeded(3))
    assert first == again and len(first) == 13
    assert lm.continue_words(model, vocab, ["the"], num_words=50, stop="<eos>",
                             generator=lm.seeded(3))[-1] == "<eos>"
    with pytest.raises(ValueError, match=r"\['zebra'\] are not in the model's vocabulary"):
        lm.continue_words(model, vocab, ["the", "zebra"])
    with pytest.raises(ValueError, match="prompt is empty"):
        lm.continue_words(model, vocab, [])
    with pytest.raises(ValueError, match="temperature"):
        lm.continue_words(model, vocab, ["the"], temperature=-1)


def test_report_a_tokens_keep_punctuation_on_words():
    assert corpus.report_a_tokens("Lord, my LORD.") == ["lord,", "my", "lord."]
    vocab, _ = corpus.encode_corpus({"train": ["Lord, my lord."]}, corpus.report_a_tokens)
    assert {"lord,", "lord."} <= set(vocab.words)
