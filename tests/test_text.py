"""Text cleaning, table splits and the classic classifiers on tiny made-up data."""

import numpy as np
import pandas as pd
import pytest

from coursekit import classic, data, text


def test_report_c_pipeline_matches_the_reports_example():
    steps = text.clean_steps("The movie is good, I loved the movie. Will audience like it?!!")
    assert [name for name, _ in steps][0] == "raw text" and len(steps) == 6
    assert steps[-1][1] == "movie good loved movie audience like"
    assert text.clean(["Rated 10/10 (wow)", "A #1 film_noir"]) == ["rated wow", "# film_noir"]


def test_split_frame_is_stratified_and_exact():
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(100)], "label": [0, 1] * 50})
    splits = data.split_frame(frame, {"train": 70, "val": 10, "test": 20}, seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 70, "val": 10, "test": 20}
    assert splits["test"]["label"].mean() == 0.5
    assert not set(splits["train"]["text"]) & set(splits["test"]["text"])
    with pytest.raises(ValueError, match="add up to 101 rows"):
        data.split_frame(frame, {"train": 100, "test": 1})


def test_classic_classifiers_learn_word_evidence():
    good, bad = "great wonderful superb", "awful boring terrible"
    texts = [f"{good} film {i}" for i in range(40)] + [f"{bad} film {i}" for i in range(40)]
    labels = np.array([1] * 40 + [0] * 40)
    results, predicted = classic.fit_and_score(
        classic.report_c_classifiers(), (texts, labels),
        {"test": (["superb acting", "boring plot"], np.array([1, 0]))})
    assert list(results.index) == ["nb_counts", "nb_tfidf", "tree_tfidf"]
    assert (results["test_acc"] == 100).all()
    words = classic.telling_words(classic.report_c_classifiers()["nb_counts"].fit(texts, labels),
                                  ["neg", "pos"], n=3, min_count=40)
    assert set(w.split()[0] for w in words["pos"]) == {"great", "wonderful", "superb"}


def test_vocabulary_encoding_and_coverage():
    tokens = [text.tokenize("The film, the FILM!"), text.tokenize("a film")]
    vocab = text.Vocabulary.build(tokens, max_size=2)
    assert vocab.words == ["<pad>", "<unk>", "film", "the"]
    ids, lengths = text.encode(tokens + [[]], vocab, max_len=3)
    assert ids.tolist() == [[3, 2, 3], [1, 2, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 2, 1]
    assert vocab.coverage(tokens) == pytest.approx(5 / 6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_text_rnn_never_reads_the_padding(cell, bidirectional):
    import torch
    from coursekit.models.text_rnn import TextRNN
    torch.manual_seed(0)
    model = TextRNN(30, embed_dim=8, hidden_size=6, num_layers=2, cell=cell,
                    bidirectional=bidirectional).eval()
    short = model(torch.tensor([[4, 5, 6, 0, 0]]), torch.tensor([3]))
    noisy = model(torch.tensor([[4, 5, 6, 9, 9]]), torch.tensor([3]))
    assert torch.allclose(short, noisy)
    with pytest.raises(ValueError, match="unknown cell 'transformer'"):
        TextRNN(30, cell="transformer")
