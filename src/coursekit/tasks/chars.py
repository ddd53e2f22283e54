"""Names as characters, for the character-level models of chapter A7 (reports A and D).

A ``CharVocab`` maps characters to ids, with id 0 the token "." that both starts and
ends a name (makemore's convention): the model reads ``.emma`` and learns to predict
``emma.``, so it also learns how names begin and when they end. ``to_ascii`` strips
accents as the PyTorch tutorial behind reports A and D did (Ślusarski -> Slusarski).
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["BOUNDARY", "CharVocab", "EncodedNames", "encode_names", "to_ascii"]

BOUNDARY = "."  # starts and ends every name; id 0
TUTORIAL_LETTERS = string.ascii_letters + " ,;'-"  # the tutorial's, less its "."


def to_ascii(name: str, allowed: str = TUTORIAL_LETTERS) -> str:
    """``name`` without accents and without characters outside ``allowed``.

    >>> to_ascii("Ślusarski"), to_ascii("O'Néill"), to_ascii("Müller 1")
    ('Slusarski', "O'Neill", 'Muller ')
    """
    plain = "".join(c for c in unicodedata.normalize("NFD", name)
                    if unicodedata.category(c) != "Mn")
    return "".join(c for c in plain if c in allowed)


class CharVocab:
    """The characters of a set of names, sorted, after the boundary token.

    >>> vocab = CharVocab.build(["ann", "bob"])
    >>> vocab.chars, vocab.ids("nab"), vocab.text([2, 1, 0])
    (['.', 'a', 'b', 'n', 'o'], [3, 1, 2], 'ba')
    """

    def __init__(self, chars: Sequence[str]) -> None:
        if BOUNDARY in chars:
            raise ValueError(f"{BOUNDARY!r} is the boundary token; names may not contain it")
        self.chars = [BOUNDARY, *chars]
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, names: Sequence[str]) -> "CharVocab":
        return cls(sorted({c for name in names for c in name}))

    def __len__(self) -> int:
        return len(self.chars)

    def ids(self, text: str) -> list[int]:
        """Character ids; raises ``ValueError`` for a character the vocabulary lacks."""
        unknown = sorted({c for c in text if c not in self.index})
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary "
                             f"({''.join(self.chars[1:])})")
        return [self.index[c] for c in text]

    def text(self, ids: Sequence[int]) -> str:
        """Characters up to the first boundary token."""
        out = []
        for i in ids:
            if i == 0:
                break
            out.append(self.chars[i])
        return "".join(out)


@dataclass
class EncodedNames:
    """Names ready for a character model: ``inputs`` (N, T) = boundary + name, padded
    with 0; ``targets`` (N, T) = name + boundary, padded with -100 (ignored by the
    loss); ``categories`` (N,) the language of each name (0 when there is none)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    categories: torch.Tensor

    def __len__(self) -> int:
        return len(self.inputs)

    def batch(self, index: torch.Tensor, device: torch.device) -> "EncodedNames":
        """The names at ``index`` on ``device``, cut to the longest of them."""
        width = int((self.targets[index] >= 0).sum(1).max())
        return EncodedNames(self.inputs[index, :width].to(device),
                            self.targets[index, :width].to(device),
                            self.categories[index].to(device))

    def loss(self, model: torch.nn.Module) -> tuple[torch.Tensor, int]:
        """Summed next-character cross-entropy of ``model`` and the number of targets."""
        logits = model(self.inputs, self.categories)
        total = torch.nn.functional.cross_entropy(logits.transpose(1, 2), self.targets,
                                                  ignore_index=-100, reduction="sum")
        return total, int((self.targets >= 0).sum())


def encode_names(names: Sequence[str], vocab: CharVocab,
                 categories: Sequence[int] | None = None) -> EncodedNames:
    """Encode names for next-character prediction.

    >>> e = encode_names(["ab", "b"], CharVocab(["a", "b"]))
    >>> e.inputs.tolist(), e.targets.tolist()
    ([[0, 1, 2], [0, 2, 0]], [[1, 2, 0], [2, 0, -100]])
    """
    width = max(len(n) for n in names) + 1
    inputs = torch.zeros(len(names), width, dtype=torch.long)
    targets = torch.full((len(names), width), -100, dtype=torch.long)
    for row, name in enumerate(names):
        ids = vocab.ids(name)
        inputs[row, 1:len(ids) + 1] = torch.tensor(ids, dtype=torch.long)
        targets[row, :len(ids) + 1] = torch.tensor(ids + [0], dtype=torch.long)
    cats = torch.zeros(len(names), dtype=torch.long) if categories is None \
        else torch.as_tensor(list(categories), dtype=torch.long)
    return EncodedNames(inputs, targets, cats)
