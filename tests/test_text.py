"""Text cleaning, table splits and the classic classifiers on tiny made-up data."""

import numpy as np
import pandas as pd
import pytest

from coursekit import data
from coursekit.tasks import classic, findings, text


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


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_text_rnn_gives_what_packed_sequences_give(cell, bidirectional):
    """The padded, gathered computation equals PyTorch's packed one, weight for weight."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence
    from coursekit.models.text_rnn import _CELLS, TextRNN
    torch.manual_seed(0)
    model = TextRNN(30, embed_dim=8, hidden_size=6, num_layers=2, cell=cell,
                    bidirectional=bidirectional, head=5).eval()
    packed_rnn = _CELLS[cell](8, 6, num_layers=2, batch_first=True,
                              bidirectional=bidirectional)
    if bidirectional:
        for k in range(2):
            for suffix, layer in [("", model.forward_layers[k]),
                                  ("_reverse", model.backward_layers[k])]:
                for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
                    getattr(packed_rnn, f"{name}_l{k}{suffix}").data.copy_(
                        getattr(layer, f"{name}_l0"))
    else:
        packed_rnn.load_state_dict(model.rnn.state_dict())
    lengths = torch.tensor([7, 3, 1, 5])
    ids = torch.randint(1, 30, (4, 7)) * (torch.arange(7) < lengths[:, None])
    _, hidden = packed_rnn(pack_padded_sequence(model.embedding(ids), lengths,
                                                batch_first=True, enforce_sorted=False))
    hidden = hidden[0] if cell == "lstm" else hidden
    state = torch.cat([hidden[-2], hidden[-1]], 1) if bidirectional else hidden[-1]
    expected = model.fc(model.head(state))
    assert torch.allclose(model(ids, lengths), expected, atol=1e-5)


def test_reverse_within_keeps_padding_in_place():
    import torch
    from coursekit.models.text_rnn import reverse_within
    x = torch.tensor([[1, 2, 3, 0], [4, 0, 0, 0]])
    assert reverse_within(x, torch.tensor([3, 1])).tolist() == [[3, 2, 1, 0], [4, 0, 0, 0]]
    assert torch.equal(reverse_within(reverse_within(x, torch.tensor([3, 1])),
                                      torch.tensor([3, 1])), x)


def test_token_loader_batches_similar_lengths_and_visits_every_text_once():
    import torch
    from types import SimpleNamespace
    from coursekit.training.loader import TokenLoader
    lengths = torch.randint(1, 200, (1000,), generator=torch.Generator().manual_seed(0))
    ids = (torch.arange(200) < lengths[:, None]).long()
    data = SimpleNamespace(ids=ids, lengths=lengths, labels=torch.arange(1000))

    def epoch(seed):
        loader = TokenLoader(data, 32, device=torch.device("cpu"), shuffle=True,
                             drop_last=True, generator=torch.Generator().manual_seed(seed))
        return list(loader)

    batches = epoch(0)
    seen = torch.cat([labels for _, labels in batches])
    assert len(batches) == 31 and len(seen.unique()) == 31 * 32
    padding = sum(ids.shape[1] * len(ids) - int(l.sum()) for (ids, l), _ in batches)
    assert padding < 0.05 * int(lengths.sum())  # unsorted batches would pad ~50 %
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, epoch(0)))
    assert not torch.equal(seen, torch.cat([labels for _, labels in epoch(1)]))


def test_report_b_cleaning_drops_handles_emojis_symbols_and_stop_words():
    steps = text.clean_steps("@united Thanks!! 😀 Flight 2 was GREAT http://t.co/x",
                             text.REPORT_B_STEPS)
    assert [name for name, _ in steps][1:] == [name for name, _ in text.REPORT_B_STEPS]
    assert steps[-1][1].split() == ["thanks", "flight", "2", "great", "http", "t", "x"]


def test_label_share_is_a_percentage_of_one_label():
    import math
    from coursekit.tasks import text
    assert text.label_share([1, 0, 0, 0]) == 25.0
    assert text.label_share([0, 0, 2], label=2) == 100 / 3
    assert math.isnan(text.label_share([]))


def test_class_recalls_and_min_recall_gain():
    recalls = findings.class_recalls({"a": [0, 1, 1, 2], "b": [0, 0, 1, 2]}, [0, 1, 0, 2],
                                 ["neg", "neu", "pos"])
    assert recalls.loc["a"].tolist() == [50.0, 100.0, 100.0]
    assert recalls.loc["b"].tolist() == [50.0, 0.0, 100.0]
    assert findings.min_recall_gain(recalls, "a", ["b"]) == 0.0
    assert findings.min_recall_gain(recalls, "b", ["a"]) == -100.0
    assert np.isnan(findings.min_recall_gain(recalls, "a", ["c"]))


def test_sentiment_measures_from_results_histories_and_recalls():
    import pandas as pd
    from types import SimpleNamespace
    results = pd.DataFrame({"train_acc": [90.0, 80.0], "val_acc": [70.0, 78.0],
                            "test_acc": [72.0, 77.0]}, index=["a", "b"])
    histories = {"a": SimpleNamespace(train_acc=[60.0, 85.0], val_acc=[65.0, 71.0, 69.0]),
                 "b": SimpleNamespace(train_acc=[70.0, 72.0], val_acc=[77.0, 78.0])}
    recalls = pd.DataFrame({"neg": [90.0, 80.0], "pos": [40.0, 85.0]}, index=["a", "b"])
    out = text.sentiment_measures(results, histories, recalls)
    assert out.loc["a", "train_val_gap"] == 20.0 and out.loc["b", "train_test_gap"] == 3.0
    assert out["best_recall_class"].tolist() == ["neg", "pos"]
    assert out.loc["a", "train_acc_gain"] == 25.0 and out.loc["a", "val_acc_spread"] == 6.0
    assert out.loc["b", "recall_pos"] == 85.0
