"""Using next-token models: held-out loss per token, sampling, names.

The models train with ``training.fit`` and the ``training.NextToken`` objective, on
data that knows how to batch itself and score the model: ``chars.EncodedNames`` (next
character of a name), ``translate.Pairs`` (next word of a translation) or
``corpus.TokenWindows``, each with ``batch(index, device)`` and ``loss(model) ->
(summed cross-entropy, tokens)`` over the real, not padded, positions. ``nll`` is that
loss on any split, in nats per token (``exp`` of it is the perplexity).
``sample`` draws names one token at a time, with a temperature and a seeded generator
so a chapter's samples are the same at every run; ``continue_words`` does the same for
a word-level model given the first words of a sentence, or decodes greedily.

For names (chapter A7), ``greedy_names`` draws the likeliest name for each start letter
(as reports A and D did), ``name_nll`` scores names one by one, ``names_measures`` says
how many generated names look like real ones and how many are new, ``judge_language``
and ``language_agreement`` say whether names are of the language asked for, and
``scoreboard`` puts held-out loss, perplexity, size and training time side by side.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from coursekit.tasks.chars import CharVocab, encode_names
from coursekit.tasks.text import Vocabulary
from coursekit.training.devices import model_device
from coursekit.training.evaluation import nll
from coursekit.models import count_parameters

if TYPE_CHECKING:
    from coursekit import training

__all__ = ["continue_words", "greedy_names", "judge_language",
           "language_agreement", "name_nll", "names_measures", "nll", "sample",
           "scoreboard", "seeded"]


def _next_token(logits: Tensor, temperature: float, generator: torch.Generator | None
                ) -> Tensor:
    """Next ids (N, 1) from logits (N, V): the likeliest at temperature 0, else drawn
    from softmax(logits / temperature) with ``generator`` (on the CPU, so a seed gives the
    same draws on any device)."""
    if temperature == 0:
        return logits.argmax(dim=1, keepdim=True)
    probs = torch.softmax(logits.float() / temperature, dim=1).cpu()
    return torch.multinomial(probs, 1, generator=generator).to(logits.device)


def seeded(seed: int) -> torch.Generator:
    """A CPU generator for ``sample``: the same seed draws the same names."""
    return torch.Generator().manual_seed(seed)


@torch.inference_mode()
def sample(model: nn.Module, vocab: CharVocab, *, num: int = 1, start: str = "",
           category: int = 0, temperature: float = 1.0, max_len: int = 30,
           generator: torch.Generator | None = None) -> list[str]:
    """Draw ``num`` names that begin with ``start``; lower ``temperature`` -> likelier.

    Each step rescores the whole prefix (names are short), divides the logits by the
    temperature and draws the next character; a name ends at the boundary token.
    ``temperature=0`` takes the likeliest character every time (greedy, as the
    tutorial behind reports A and D sampled).

    Raises:
        ValueError: for a negative temperature, or a start letter the vocabulary lacks.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be 0 (greedy) or positive, got {temperature}")
    rows = _grow_names(model, [vocab.ids(start)] * num, category, temperature,
                       generator, max_len)
    return [start + vocab.text(row[1 + len(start):]) for row in rows]


def _grow_names(model: nn.Module, starts: list[list[int]], category: int,
                temperature: float, generator: torch.Generator | None, max_len: int
                ) -> list[list[int]]:
    """Extend every row of start ids (all of one length) one character at a time, all
    rows at once, until each has drawn the boundary or holds ``max_len`` characters.
    Returns the rows as id lists, the leading boundary 0 included."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    prefix = torch.tensor([[0] + ids for ids in starts], device=device)
    categories = torch.full((len(starts),), category, dtype=torch.long, device=device)
    done = torch.zeros(len(starts), dtype=torch.bool, device=device)
    while prefix.shape[1] <= max_len and not done.all():
        nxt = _next_token(model(prefix, categories)[:, -1], temperature, generator)
        nxt[done] = 0
        done |= nxt[:, 0] == 0
        prefix = torch.cat([prefix, nxt], dim=1)
    model.train(was_training)
    return prefix.tolist()


@torch.inference_mode()
def continue_words(model: nn.Module, vocab: Vocabulary, prompt: list[str], *,
                   num_words: int = 30, temperature: float = 1.0, stop: str | None = None,
                   generator: torch.Generator | None = None) -> list[str]:
    """The prompt and up to ``num_words`` next words of a word-level model
    (``model(ids) -> logits (1, T, vocab)``), ending early after ``stop``.

    ``temperature=0`` decodes greedily (the likeliest word every time); a positive one
    samples from the softmax of the logits divided by it.

    Raises:
        ValueError: for a negative temperature or prompt words the vocabulary lacks.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be 0 (greedy) or positive, got {temperature}")
    if not prompt:
        raise ValueError("the prompt is empty; give at least one word to continue")
    unknown = [w for w in prompt if w not in vocab.index]
    if unknown:
        raise ValueError(f"prompt words {unknown} are not in the model's vocabulary of "
                         f"{len(vocab):,} words; try other words")
    was_training = model.training
    model.eval()
    device = model_device(model)
    ids = torch.tensor([vocab.ids(prompt)], device=device)
    for _ in range(num_words):
        nxt = _next_token(model(ids)[:, -1], temperature, generator)
        ids = torch.cat([ids, nxt], dim=1)
        if stop is not None and vocab.words[nxt.item()] == stop:
            break
    model.train(was_training)
    return [vocab.words[i] for i in ids[0].tolist()]


# ---------------------------------------------------------------- names (chapter A7)


@torch.inference_mode()
def greedy_names(model: nn.Module, vocab: CharVocab, starts: str | list[str], *,
                 category: int = 0, max_len: int = 20) -> list[str]:
    """The likeliest name after each start letter (``temperature=0`` sampling, all
    start letters at once): the tutorial's ``sample(category, start_letter)``, which
    reports A and D showed. A name that never ends is cut at ``max_len`` characters.

    Raises:
        ValueError: for a start letter the vocabulary lacks, or no start letters.
    """
    starts = list(starts)
    if not starts:
        raise ValueError("give at least one start letter")
    rows = _grow_names(model, [vocab.ids(s) for s in starts], category, 0, None, max_len)
    return [vocab.text(row[1:]) for row in rows]


@torch.inference_mode()
def name_nll(model: nn.Module, names: list[str], vocab: CharVocab,
             categories: list[int] | None = None, *, total: bool = False) -> np.ndarray:
    """Negative log-likelihood of each name under ``model`` (nats per character, the
    closing boundary included, as ``nll`` counts them; ``total=True``: summed over the
    name). Works for any model with ``model(inputs, categories) -> logits``, including
    ``models.Bigram`` (whose outputs are already log-probabilities)."""
    was_training = model.training
    model.eval()
    encoded = encode_names(names, vocab, categories)
    device = model_device(model)
    logits = model(encoded.inputs.to(device), encoded.categories.to(device)).float().cpu()
    log_probs = torch.log_softmax(logits, dim=2)
    keep = encoded.targets >= 0
    picked = log_probs.gather(2, encoded.targets.clamp(min=0)[..., None])[..., 0] * keep
    model.train(was_training)
    summed = -picked.sum(1)
    return (summed if total else summed / keep.sum(1)).numpy()


def names_measures(names: list[str], judge: nn.Module, vocab: CharVocab, *,
                   reference: list[str], known: set[str] | list[str],
                   quantile: float = 0.95, lengths: tuple[int, int] = (2, 15)
                   ) -> dict[str, float]:
    """Do generated ``names`` look like names, and are they new?

    A name is *name-like* when it has ``lengths`` letters (inclusive) and its
    per-character NLL under ``judge`` (e.g. letter-pair counts fit on the training
    names) is no higher than the ``quantile`` of the ``reference`` (held-out) names'
    NLLs: a test that that share of real names passes.

    Returns:
        ``name_like_pct`` (% of ``names``), ``novel_pct`` (% of the name-like ones not
        in ``known``; NaN when none is name-like) and ``threshold`` (nats/char).
    """
    threshold = float(np.quantile(name_nll(judge, reference, vocab), quantile))
    scores = name_nll(judge, names, vocab) if names else np.array([])
    like = [lengths[0] <= len(n) <= lengths[1] and s <= threshold
            for n, s in zip(names, scores)]
    liked = [n for n, ok in zip(names, like) if ok]
    known = set(known)
    return {"name_like_pct": 100 * float(np.mean(like)) if like else math.nan,
            "novel_pct": 100 * sum(n not in known for n in liked) / len(liked)
            if liked else math.nan,
            "threshold": threshold}


def judge_language(judge: nn.Module, names: list[str], vocab: CharVocab,
                   num_categories: int) -> list[int]:
    """For each name, the category (language) under which ``judge`` finds it likeliest,
    with a uniform prior over the ``num_categories`` languages."""
    if not names:
        return []
    scores = np.stack([name_nll(judge, names, vocab, [c] * len(names), total=True)
                       for c in range(num_categories)])
    return scores.argmin(axis=0).tolist()


def language_agreement(judge: nn.Module, names_by_language: dict[int, list[str]],
                       vocab: CharVocab, num_categories: int) -> float:
    """% of each language's names that ``judge_language`` assigns to that language,
    averaged over the languages (each language weighs the same).

    Raises:
        ValueError: when no language has a name.
    """
    shares = [100 * float(np.mean([j == c for j in judge_language(judge, names, vocab,
                                                                  num_categories)]))
              for c, names in names_by_language.items() if names]
    if not shares:
        raise ValueError("no names to judge")
    return float(np.mean(shares))


def scoreboard(models: dict[str, nn.Module], data, *,
               histories: dict[str, "training.History"] | None = None) -> pd.DataFrame:
    """One row per model: held-out loss ``val_nll`` (nats per token) on ``data``, its
    ``perplexity``, ``num_parameters`` (a count model's counts when it has no
    parameters) and ``time_s`` (training time; 0 for a model without a history)."""
    histories = histories or {}
    rows = {}
    for name, model in models.items():
        loss = nll(model, data)
        size = count_parameters(model) or sum(b.numel() for b in model.buffers())
        rows[name] = {"val_nll": loss, "perplexity": math.exp(loss),
                      "num_parameters": size,
                      "time_s": histories[name].train_time_s if name in histories else 0.0}
    return pd.DataFrame(rows).T
