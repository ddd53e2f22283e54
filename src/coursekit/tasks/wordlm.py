"""Chapter A8's word-level language models: report A's two LSTMs on a corpus, the
word-pair baseline they are measured against, and what their continuations look like.

A corpus arrives as id streams per split (``corpus.encode_corpus``). ``bigram_baseline``
picks the interpolation weight of counted word pairs on the validation words;
``pair_variants`` describes WordModel1 (weight-tied) and WordModel2 for a vocabulary;
``train_models`` builds and trains them on windows of the stream (``training.fit_variants``
with the ``NextToken`` objective); ``scoreboard`` puts validation and test perplexity, size, training time and how
far perplexity fell during training side by side, with the word pairs first;
``continuations`` writes greedy and sampled continuations of a prompt and
``continuation_measures`` says how varied a greedy one is and when it ends its sentence;
``bits_per_char`` scores models with different vocabularies on the same raw text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from coursekit import models, training
from coursekit.tasks import corpus, lm
from coursekit.tasks.text import Vocabulary

__all__ = ["BigramBaseline", "MODEL_NAMES", "SENTENCE_ENDS", "bigram_baseline",
           "bits_per_char", "continuation_measures", "continuations",
           "describe", "describe_styled", "flatten", "held_out_cut", "init_unigram_bias",
           "pair_variants", "scoreboard", "show_text", "spread_windows", "style_board", "train_models"]

MODEL_NAMES = {"wordmodel1": "WordModel1", "wordmodel2": "WordModel2", "bigram": "word pairs"}
SENTENCE_ENDS = (".", "!", "?", corpus.EOS)


def held_out_cut(ids: dict[str, torch.Tensor], eval_words: int) -> dict[str, torch.Tensor]:
    """The first ``eval_words`` ids of every split but "train" (all of them when 0).

    >>> cut = held_out_cut({"train": torch.arange(9), "valid": torch.arange(9)}, 4)
    >>> len(cut["train"]), len(cut["valid"])
    (9, 4)
    """
    return {k: v if k == "train" else v[:eval_words or None] for k, v in ids.items()}


def describe(ids: dict[str, torch.Tensor], unk_id: int = 1) -> pd.DataFrame:
    """Words per split (one <eos> per line included) and the share (%) that are <unk>."""
    return pd.DataFrame({"words": {k: len(v) for k, v in ids.items()},
                         "unknown (%)": {k: 100 * float((v == unk_id).float().mean())
                                         for k, v in ids.items()}}).T


def describe_styled(ids: dict[str, torch.Tensor], unk_id: int = 1):
    """:func:`describe` as a chapter shows it: whole words, the <unk> share to 0.1 %."""
    return (describe(ids, unk_id).style.format("{:,.0f}")
            .format("{:.1f}", subset=pd.IndexSlice[["unknown (%)"], :]))


@dataclass(frozen=True)
class BigramBaseline:
    """Interpolated word-pair counts: the weight chosen on validation, and nats/word."""

    weight: float
    val_nll: float
    test_nll: float


def bigram_baseline(ids: dict[str, torch.Tensor], vocab_size: int,
                    weights: Sequence[float] = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
                    ) -> BigramBaseline:
    """``corpus.bigram_nll`` at the weight (of ``weights``) that is best on "valid",
    and its score on "test"."""
    val = {w: corpus.bigram_nll(ids["train"], ids["valid"], vocab_size, weight=w)
           for w in weights}
    best = min(val, key=val.get)
    return BigramBaseline(best, val[best], corpus.bigram_nll(ids["train"], ids["test"],
                                                             vocab_size, weight=best))


def init_unigram_bias(model: nn.Module, train_ids: torch.Tensor) -> nn.Module:
    """Start the output layer's bias at the log of each word's training frequency
    (add-one), so that before any step the model already predicts the unigram
    distribution instead of a uniform one: the first lesson of a word model, given
    rather than learned (a common initialisation; it changes no architecture).

    >>> m = torch.nn.Module(); m.fc = torch.nn.Linear(2, 3)
    >>> _ = init_unigram_bias(m, torch.tensor([0, 0, 1]))
    >>> [round(p, 3) for p in m.fc.bias.exp().tolist()]
    [0.5, 0.333, 0.167]
    """
    vocab_size = model.fc.bias.numel()
    counts = torch.bincount(train_ids, minlength=vocab_size).float() + 1
    with torch.no_grad():
        model.fc.bias.copy_((counts / counts.sum()).log())
    return model


def pair_variants(vocab_size: int, *, width_1: int, width_2: int, dropout_1: float = 0.0,
                  dropout_2: float = 0.0, unigram: torch.Tensor | None = None
                  ) -> dict[str, training.Variant]:
    """Report A's two models for a vocabulary, as ``training.Variant``s:
    ``wordmodel1`` (3 tied LSTM layers of ``width_1``) and ``wordmodel2`` (2 layers of
    ``width_2``, its own output layer); with ``unigram`` (the training id stream) their
    output biases start at the words' log frequencies (``init_unigram_bias``).
    ``train_models`` builds each after seeding, so each starts from the same initial
    weights at every run; ``Variant.build()`` builds one to look at."""
    def builder(registered: str, width: int, dropout: float):
        def build() -> nn.Module:
            model = models.build_model(registered, vocab_size=vocab_size, embed_dim=width,
                                       hidden_size=width, dropout=dropout)
            return model if unigram is None else init_unigram_bias(model, unigram)
        return build
    return {"wordmodel1": training.Variant("wordmodel1",
                                           builder("word_lm_1", width_1, dropout_1)),
            "wordmodel2": training.Variant("wordmodel2",
                                           builder("word_lm_2", width_2, dropout_2))}


def spread_windows(windows: corpus.TokenWindows, limit: int) -> corpus.TokenWindows:
    """``limit`` windows spread evenly over ``windows`` (all of them when ``limit`` is 0
    or not smaller).

    >>> w = corpus.windows(torch.arange(21), 2)
    >>> spread_windows(w, 3).ids[:, 0].tolist()
    [0, 6, 12]
    """
    if not limit or limit >= len(windows):
        return windows
    return corpus.TokenWindows(windows.ids[torch.arange(limit) * len(windows) // limit])


def train_models(variants: list[training.Variant], ids: dict[str, torch.Tensor], *,
                 window: int, train_limit: int = 0, num_epochs: int = 1,
                 batch_size: int = 8, lr: float = 0.01, clip: float | None = 1.0,
                 seed: int = 0, verbose: bool = True) -> training.VariantRuns:
    """Train each variant with ``training.fit_variants`` toward next-word prediction
    (Adam, the learning rate decaying linearly to zero, gradient norm clipped at
    ``clip``) on ``train_limit`` windows (all when 0) of ``window`` words of the "train"
    stream, validated on "valid". The windows kept are spread evenly over the stream
    (``spread_windows``), so that every part of the corpus (every play of Shakespeare,
    whose last ones the validation text continues) is read, not only its beginning."""
    train_set = spread_windows(corpus.windows(ids["train"], window), train_limit)
    val_set = corpus.windows(ids["valid"], window)
    recipe = training.FitConfig(num_epochs=num_epochs, batch_size=batch_size, lr=lr,
                                optimizer="adam", lr_schedule="linear", clip_grad_norm=clip,
                                eval_batch_size=64, seed=seed, verbose=verbose)
    return training.fit_variants(variants, train_set, val_set, None, recipe,
                                 objective=training.NextToken())


def scoreboard(models_: dict[str, nn.Module], histories: dict[str, training.History],
               ids: dict[str, torch.Tensor], bigram: BigramBaseline, *, window: int
               ) -> pd.DataFrame:
    """One row per model, the word pairs first (``bigram``):

    - ``val_ppl``: validation perplexity after the last epoch; ``test_ppl``: exp of
      ``lm.nll`` on the test windows (for the word pairs: their test score);
    - ``num_parameters``, ``time_s`` (training time);
    - ``ppl_reduction_factor``: exp(first training batch's NLL - last validation NLL),
      how many times perplexity fell over training;
    - ``ppl_gap_to_wordmodel1_pct`` (every model but wordmodel1 and the word pairs):
      100 x |test_ppl - wordmodel1's| / wordmodel1's.
    """
    rows = {"bigram": {"val_ppl": math.exp(bigram.val_nll),
                       "test_ppl": math.exp(bigram.test_nll)}}
    test_set = corpus.windows(ids["test"], window)
    for name, model in models_.items():
        h = histories[name]
        rows[name] = {"val_ppl": math.exp(h.val_loss[-1]),
                      "test_ppl": math.exp(lm.nll(model, test_set, batch_size=64)),
                      "num_parameters": models.count_parameters(model),
                      "time_s": h.train_time_s,
                      "ppl_reduction_factor": math.exp(h.step_loss[0] - h.val_loss[-1])}
    board = pd.DataFrame(rows).T
    if "wordmodel1" in board.index:
        base = board.loc["wordmodel1", "test_ppl"]
        for name in board.index.drop(["bigram", "wordmodel1"]):
            board.loc[name, "ppl_gap_to_wordmodel1_pct"] = \
                100 * abs(board.loc[name, "test_ppl"] - base) / base
    return board


def continuation_measures(tokens: Sequence[str]) -> dict[str, float]:
    """How a continuation (the words added to a prompt) reads:
    ``greedy_distinct_pct`` (100 x distinct tokens / tokens; a loop scores low) and
    ``greedy_words_to_end`` (position, from 1, of the first sentence end of
    ``SENTENCE_ENDS``; tokens + 1 when none).

    >>> continuation_measures(["his", "own", "life", ".", "the"])
    {'greedy_distinct_pct': 100.0, 'greedy_words_to_end': 4}
    >>> continuation_measures(["the", ",", "the", ","])
    {'greedy_distinct_pct': 50.0, 'greedy_words_to_end': 5}

    Raises:
        ValueError: for an empty continuation.
    """
    if not tokens:
        raise ValueError("the continuation is empty")
    ends = [i for i, w in enumerate(tokens) if w in SENTENCE_ENDS]
    return {"greedy_distinct_pct": 100 * len(set(tokens)) / len(tokens),
            "greedy_words_to_end": ends[0] + 1 if ends else len(tokens) + 1}


def continuations(models_: dict[str, nn.Module], vocab: Vocabulary, prompt: str, *,
                  num_words: int, temperature: float = 1.0, num_samples: int = 0,
                  seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Greedy and ``num_samples`` sampled continuations (each with its own seed) of the
    lower-cased ``prompt``, one column per model, <eos> shown as "/"; and the
    ``continuation_measures`` of each model's greedy continuation (one row per model)."""
    words = prompt.lower().split()
    text, measures = {}, {}
    for name, model in models_.items():
        greedy = lm.continue_words(model, vocab, words, num_words=num_words, temperature=0)
        runs = {"greedy": greedy}
        for i in range(num_samples):
            runs[f"sample {i + 1}"] = lm.continue_words(
                model, vocab, words, num_words=num_words, temperature=temperature,
                generator=lm.seeded(seed + i))
        text[name] = {k: " ".join(v).replace(corpus.EOS, "/") for k, v in runs.items()}
        measures[name] = continuation_measures(greedy[len(words):])
    return pd.DataFrame(text), pd.DataFrame(measures).T


def bits_per_char(model: nn.Module, ids: torch.Tensor, lines: Sequence[str], *,
                  window: int) -> float:
    """Bits per character of raw text: ``model``'s mean NLL per token on the windows of
    ``ids`` (the stream of ``lines``), times the stream's predicted tokens, over the
    characters of ``lines`` (one newline each) times ln 2. Models with different
    tokenizations are so scored on the same text (words a vocabulary lacks count as
    ``<unk>``, which is cheaper than spelling them)."""
    per_token = lm.nll(model, corpus.windows(ids, window), batch_size=64)
    characters = sum(len(line) + 1 for line in lines)
    return per_token * (len(ids) - 1) / (characters * math.log(2))


def flatten(boards: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Scoreboards per corpus as one table indexed ``<model>_<corpus>``."""
    return pd.concat([b.rename(index=f"{{}}_{name}".format) for name, b in boards.items()])


def style_board(board: pd.DataFrame):
    """A scoreboard for the page: the report's model names, perplexities to one decimal.
    The column names stay the ones the claims table checks (``ppl_reduction_factor``),
    and may wrap after an underscore so the table fits the page.

    >>> board = pd.DataFrame({"ppl_reduction_factor": [74.2]}, index=["wordmodel1"])
    >>> "ppl_<wbr>reduction_<wbr>factor" in style_board(board).to_html()
    True
    """
    shown = board.rename(index=MODEL_NAMES)
    formats = {"val_ppl": "{:.1f}", "test_ppl": "{:.1f}", "num_parameters": "{:,.0f}",
               "time_s": "{:.0f}", "ppl_reduction_factor": "{:.0f}",
               "ppl_gap_to_wordmodel1_pct": "{:.0f}", "greedy_distinct_pct": "{:.0f}",
               "greedy_words_to_end": "{:.0f}"}
    return (shown.style.format({k: v for k, v in formats.items() if k in shown}, na_rep="-")
            .format_index(lambda name: name.replace("_", "_<wbr>"), axis="columns"))


def show_text(table: pd.DataFrame):
    """A table of generated text, left-aligned and wrapped, the report's model names."""
    return table.rename(columns=MODEL_NAMES).style.format(escape="html").set_properties(
        **{"text-align": "left", "white-space": "normal"})
