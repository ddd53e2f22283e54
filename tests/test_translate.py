"""Translation: the tutorial's preparation, the encoder-decoders, BLEU."""

import pytest
import torch

from coursekit import training
from coursekit.models import build_model, Seq2Seq
from coursekit.tasks import translate


def test_tutorial_normalisation_and_filter():
    assert translate.normalize("Il est FATIGUÉ… Vraiment?") == "il est fatigue vraiment ?"
    assert translate.tutorial_filter("she s tired .", "elle est fatiguee .")
    assert not translate.tutorial_filter("he s a very very very very very very tired man .",
                                         "il est fatigue .")
    assert not translate.tutorial_filter("it is raining .", "il pleut .")


def test_pairs_shift_the_target_and_unknown_words_become_unk():
    vocab_fr = translate.build_vocab(["je suis la", "je suis"])
    vocab_en = translate.build_vocab(["i m here", "i m"])
    pairs = translate.encode_pairs(["je suis ici"], ["i m here"], vocab_fr, vocab_en)
    assert pairs.src_lengths.tolist() == [4]  # three words and <eos>
    assert pairs.src[0, 2].item() == vocab_fr.index["<unk>"]
    words = [vocab_en.words[i] for i in pairs.tgt_in[0].tolist()]
    assert words == ["<sos>", "i", "m", "here"]
    assert [vocab_en.words[i] for i in pairs.tgt_out[0].tolist()] == ["i", "m", "here", "<eos>"]


@pytest.mark.parametrize("name", ["seq2seq_gru", "seq2seq_lstm", "seq2seq_attention"])
def test_padding_changes_nothing_and_attention_ignores_it(name):
    torch.manual_seed(0)
    model = build_model(name, src_vocab=20, tgt_vocab=15, hidden_size=8).eval()
    tgt = torch.tensor([[2, 5, 6]])
    short = model(torch.tensor([[4, 5, 3]]), torch.tensor([3]), tgt)
    padded = model(torch.tensor([[4, 5, 3, 0, 0]]), torch.tensor([3]), tgt)
    assert torch.allclose(short, padded, atol=1e-6)
    ids, weights = model.greedy(torch.tensor([[4, 5, 3, 0, 0]]), torch.tensor([3]), max_len=4)
    if weights is not None:
        assert weights[0, :, 3:].abs().max() == 0  # no weight on padding
        assert torch.allclose(weights.sum(-1), torch.ones(1, ids.shape[1]))


def test_an_attention_model_learns_to_copy_and_bleu_sees_it():
    words = [f"w{i}" for i in range(8)]
    g = torch.Generator().manual_seed(0)
    sentences = [" ".join(words[j] for j in torch.randint(0, 8, (4,), generator=g).tolist())
                 for _ in range(400)]
    vocab = translate.build_vocab(sentences)
    pairs = translate.encode_pairs(sentences, sentences, vocab, vocab)
    torch.manual_seed(0)
    model = Seq2Seq(len(vocab), len(vocab), hidden_size=32, attention=True)
    training.fit(model, pairs, pairs, objective=training.NextToken(), optimizer="adam", lr_schedule="linear", progress=False, num_epochs=12, batch_size=32, lr=0.01, verbose=False)
    said, weights = translate.translate(model, pairs, vocab, max_len=6)
    assert translate.bleu(said, sentences) > 90
    assert weights[0].shape == (5, 5)  # four words and <eos>, over four words and <eos>


def test_sample_measures_count_exact_opening_and_ended_translations():
    m = translate.sample_measures(["he s a powerful sorcerer .", "you re very . .",
                                   "they re all who me . . . . . ."],
                                  ["he s a powerful sorcerer .", "you re very generous .",
                                   "they re sunbathing around the pool ."], max_len=12)
    assert m["exact_pct"] == pytest.approx(100 / 3)
    assert m["prefix2_pct"] == pytest.approx(100)
    assert m["eos_pct"] == pytest.approx(100)
    cut = translate.sample_measures(["a b c", "a b"], ["a b c", "x y"], max_len=3)
    assert cut == {"exact_pct": 50.0, "prefix2_pct": 50.0, "eos_pct": 50.0}
    with pytest.raises(ValueError):
        translate.sample_measures(["a"], ["a", "b"], max_len=3)


def test_select_models_names_the_chapter_variants():
    assert translate.select_models("all") == translate.MODELS
    assert translate.select_models("gru") == {"gru": "seq2seq_gru"}
    with pytest.raises(ValueError, match="transformer"):
        translate.select_models("gru,transformer")
    with pytest.raises(ValueError):
        translate.select_models(" , ")
