"""French -> English pairs for chapter A10, prepared as PyTorch's seq2seq tutorial does.

``normalize`` lower-cases, strips accents and keeps letters and .!? as separate tokens;
``tutorial_filter`` keeps pairs whose sides are under 10 words and whose English side
starts with "i am", "he is", ... (the tutorial's ``eng_prefixes``). ``Pairs`` holds
encoded pairs for ``lm.fit_lm``; ``translate`` decodes greedily and ``bleu`` scores
translations with sacrebleu.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from coursekit.chars import to_ascii
from coursekit.text import Vocabulary

__all__ = ["ENG_PREFIXES", "SOS", "EOS", "Pairs", "bleu", "build_vocab", "encode_pairs",
           "normalize", "translate", "tutorial_filter"]

SOS, EOS = "<sos>", "<eos>"  # ids 2 and 3 of every vocabulary built here
ENG_PREFIXES = ("i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are",
                "you re ", "we are", "we re ", "they are", "they re ")


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
    device = next(model.parameters()).device
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
