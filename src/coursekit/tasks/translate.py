"""French -> English pairs for chapter A10, prepared as PyTorch's seq2seq tutorial does.

``normalize`` lower-cases, strips accents and keeps letters and .!? as separate tokens;
``tutorial_filter`` keeps pairs whose sides are under 10 words and whose English side
starts with "i am", "he is", ... (the tutorial's ``eng_prefixes``). ``Pairs`` holds
encoded pairs for ``training.fit`` with the ``NextToken`` objective; ``translate`` decodes greedily and ``bleu`` scores
translations with sacrebleu; ``sample_measures`` says how many translations are exactly
right, right in their first two words, and ended by the decoder (report A's samples).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from coursekit.tasks.chars import to_ascii
from coursekit.tasks.text import Vocabulary
from coursekit.training.devices import model_device

__all__ = ["ENG_PREFIXES", "MODELS", "SOS", "EOS", "Pairs", "bleu", "build_vocab",
           "encode_pairs", "normalize", "sample_measures", "select_models", "translate",
           "tutorial_filter"]

SOS, EOS = "<sos>", "<eos>"  # ids 2 and 3 of every vocabulary built here
ENG_PREFIXES = ("i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are",
                "you re ", "we are", "we re ", "they are", "they re ")
MODELS = {"gru": "seq2seq_gru", "lstm": "seq2seq_lstm", "gru_attention": "seq2seq_attention"}


def select_models(variants: str) -> dict[str, str]:
    """Chapter variant -> model name of ``coursekit.models`` for a comma-separated list
    such as "gru,lstm" ("all": every one of ``MODELS``).

    >>> select_models("lstm, gru")
    {'lstm': 'seq2seq_lstm', 'gru': 'seq2seq_gru'}

    Raises:
        ValueError: for an unknown or empty list.
    """
    chosen = list(MODELS) if variants.strip() == "all" else \
        [v.strip() for v in variants.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in MODELS]
    if unknown or not chosen:
        raise ValueError(f"variants={variants!r}: unknown {unknown}; choose 'all' or "
                         f"comma-separated names from {', '.join(MODELS)}")
    return {v: MODELS[v] for v in chosen}


def normalize(text: str) -> str:
    """The tutorial's ``normalizeString``.

    >>> normalize("Je suis FATIGUÉ\u202f!")
    'je suis fatigue !'
    """
    text = to_ascii(text.lower().strip(), allowed="".join(map(chr, range(128))))
    text = re.sub(r"([.!?])", r" \1", text)
    return re.sub(r"[^a-zA-Z.!?]+", " ", text).strip()


def tutorial_filter(english: str, french: str, max_words: int = 10) -> bool:
    """Both sides under ``max_words`` words and the English starting with a prefix.

    >>> tutorial_filter("i m tired .", "je suis fatigue ."), tutorial_filter("go .", "va !")
    (True, False)
    """
    return (len(english.split(" ")) < max_words and len(french.split(" ")) < max_words
            and english.startswith(ENG_PREFIXES))


def build_vocab(sentences: Sequence[str]) -> Vocabulary:
    """Every word of ``sentences``, most frequent first, after <pad>, <unk>, <sos>, <eos>."""
    counted = Vocabulary.build(s.split(" ") for s in sentences)
    return Vocabulary([SOS, EOS, *counted.words[2:]])


@dataclass
class Pairs:
    """Encoded pairs: ``src`` (N, S) French ids + <eos>, padded with 0, and
    ``src_lengths``; ``tgt_in`` (N, T) <sos> + English ids and ``tgt_out`` English ids +
    <eos> (the next word at each step), padded with 0."""

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor

    def __len__(self) -> int:
        return len(self.src)

    def batch(self, index: torch.Tensor, device: torch.device) -> "Pairs":
        s = int(self.src_lengths[index].max())
        t = int((self.tgt_out[index] > 0).sum(1).max())
        return Pairs(self.src[index, :s].to(device), self.src_lengths[index].to(device),
                     self.tgt_in[index, :t].to(device), self.tgt_out[index, :t].to(device))

    def loss(self, model: nn.Module) -> tuple[torch.Tensor, int]:
        """Summed cross-entropy of the next English word, and the number of words."""
        logits = model(self.src, self.src_lengths, self.tgt_in)
        total = nn.functional.cross_entropy(logits.transpose(1, 2), self.tgt_out,
                                            ignore_index=0, reduction="sum")
        return total, int((self.tgt_out > 0).sum())


def _ids(sentence: str, vocab: Vocabulary) -> list[int]:
    return vocab.ids(sentence.split(" "))


def encode_pairs(french: Sequence[str], english: Sequence[str], src_vocab: Vocabulary,
                 tgt_vocab: Vocabulary) -> Pairs:
    """Encode normalized sentences; words outside a vocabulary become <unk>."""
    sos, eos = tgt_vocab.index[SOS], tgt_vocab.index[EOS]
    src_rows = [_ids(f, src_vocab) + [src_vocab.index[EOS]] for f in french]
    tgt_rows = [_ids(e, tgt_vocab) for e in english]
    src = torch.zeros(len(src_rows), max(map(len, src_rows)), dtype=torch.long)
    tgt_in = torch.zeros(len(tgt_rows), max(map(len, tgt_rows)) + 1, dtype=torch.long)
    tgt_out = torch.zeros_like(tgt_in)
    for row, (s, t) in enumerate(zip(src_rows, tgt_rows)):
        src[row, :len(s)] = torch.tensor(s)
        tgt_in[row, :len(t) + 1] = torch.tensor([sos, *t])
        tgt_out[row, :len(t) + 1] = torch.tensor([*t, eos])
    return Pairs(src, torch.tensor(list(map(len, src_rows))), tgt_in, tgt_out)


def translate(model: nn.Module, pairs: Pairs, tgt_vocab: Vocabulary, *, max_len: int = 12,
              batch_size: int = 512) -> tuple[list[str], list[torch.Tensor | None]]:
    """Greedy translations of every source sentence, and each one's attention weights
    (steps, source words) when the model attends."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    eos = tgt_vocab.index[EOS]
    sentences, attention = [], []
    for start in range(0, len(pairs), batch_size):
        index = torch.arange(start, min(start + batch_size, len(pairs)))
        batch = pairs.batch(index, device)
        ids, weights = model.greedy(batch.src, batch.src_lengths, max_len=max_len)
        for row, words in enumerate(ids.tolist()):
            length = words.index(eos) if eos in words else len(words)
            sentences.append(" ".join(tgt_vocab.words[i] for i in words[:length]))
            attention.append(None if weights is None else
                             weights[row, :length + 1, :int(batch.src_lengths[row])].cpu())
    model.train(was_training)
    return sentences, attention


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) of ``hypotheses`` against one reference each, by sacrebleu.

    Both sides are already tokenized by ``normalize`` (punctuation split off), which
    sacrebleu's default tokenizer leaves as it is; ``force`` tells it that is meant.
    """
    import sacrebleu
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)], force=True).score


def sample_measures(hypotheses: Sequence[str], references: Sequence[str], max_len: int
                    ) -> dict[str, float]:
    """How a model did on a sample of sentences, the way report A showed its samples.

    - ``exact_pct``: % of translations equal to their reference word for word;
    - ``prefix2_pct``: % whose first two words are the reference's (e.g. "you re");
    - ``eos_pct``: % the decoder ended itself, i.e. shorter than the ``max_len`` words
      ``translate`` returns when no end token came.

    >>> m = sample_measures(["i m here .", "you re very . .", "he he he he he he"],
    ...                     ["i m here .", "you re very kind .", "she s here ."], max_len=6)
    >>> {k: round(v) for k, v in m.items()}
    {'exact_pct': 33, 'prefix2_pct': 67, 'eos_pct': 67}

    Raises:
        ValueError: for lists of different lengths, or empty ones.
    """
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(f"need as many hypotheses as references, at least one; got "
                         f"{len(hypotheses)} and {len(references)}")
    pairs = [(h.split(), r.split()) for h, r in zip(hypotheses, references)]
    share = 100 / len(pairs)
    return {"exact_pct": share * sum(h == r for h, r in pairs),
            "prefix2_pct": share * sum(h[:2] == r[:2] for h, r in pairs),
            "eos_pct": share * sum(len(h) < max_len for h, _ in pairs)}
