"""Character-level name models of reports A and D (chapter A7), and two baselines.

All three share one call, ``model(inputs, categories) -> logits (N, T, vocab)``: the
score of every next character after each prefix of each name, given its category
(language; ignored when the model has none). Cross-entropy on these logits is the
reports' log-softmax + NLL.

- ``TutorialRNN``: the cell of PyTorch's "Generating names" tutorial that reports A
  and D trained: ``i2h`` and ``i2o`` read [category, letter, hidden], ``o2o`` reads
  [hidden, output], dropout 0.1. Its hidden state passes through no nonlinearity.
- ``CharGRU``: an embedding and a GRU, the usual modern choice.
- ``Bigram``: the next character given only this one, by counting (makemore's first
  model); ``fit`` counts, nothing is learned by gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Bigram", "CharGRU", "TutorialRNN"]


class TutorialRNN(nn.Module):
    """Report A's ``RNNModel`` (and report D's, with ``num_categories`` languages).

    Report A prints i2h: Linear(187, 128), i2o: Linear(187, 59) and o2o: 187 -> 59:
    59 letters + 128 hidden units, no category. Letters and categories enter one-hot.

    >>> TutorialRNN(59)(torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 59])
    """

    def __init__(self, vocab_size: int, hidden_size: int = 128, num_categories: int = 0,
                 dropout: float = 0.1) -> None:
        super().__init__()
        combined = num_categories + vocab_size + hidden_size
        self.vocab_size, self.num_categories = vocab_size, num_categories
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(combined, hidden_size)
        self.i2o = nn.Linear(combined, vocab_size)
        self.o2o = nn.Linear(hidden_size + vocab_size, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, inputs: Tensor, categories: Tensor | None = None) -> Tensor:
        batch, steps = inputs.shape
        letters = nn.functional.one_hot(inputs, self.vocab_size).float()
        context = [nn.functional.one_hot(categories, self.num_categories).float()] \
            if self.num_categories else []
        hidden = letters.new_zeros(batch, self.hidden_size)
        outputs = []
        for t in range(steps):
            combined = torch.cat([*context, letters[:, t], hidden], dim=1)
            hidden, output = self.i2h(combined), self.i2o(combined)
            outputs.append(self.dropout(self.o2o(torch.cat([hidden, output], dim=1))))
        return torch.stack(outputs, dim=1)


class CharGRU(nn.Module):
    """Embedding, GRU, linear: the baseline a practitioner would reach for today.

    >>> CharGRU(30, num_categories=4)(torch.zeros(2, 5, dtype=torch.long),
    ...                               torch.tensor([1, 3])).shape
    torch.Size([2, 5, 30])
    """

    def __init__(self, vocab_size: int, hidden_size: int = 128, embed_dim: int = 32,
                 num_categories: int = 0, num_layers: int = 1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.category = nn.Embedding(num_categories, embed_dim) if num_categories else None
        self.gru = nn.GRU(embed_dim * (2 if num_categories else 1), hidden_size,
                          num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, inputs: Tensor, categories: Tensor | None = None) -> Tensor:
        x = self.embedding(inputs)
        if self.category is not None:
            x = torch.cat([x, self.category(categories)[:, None].expand_as(x)], dim=2)
        outputs, _ = self.gru(x)
        return self.fc(outputs)


class Bigram(nn.Module):
    """Log-probabilities of the next character given this one (and the category),
    from counts with add-``smoothing``.

    >>> model = Bigram(3).fit(torch.tensor([[0, 1, 2]]), torch.tensor([[1, 2, 0]]))
    >>> model(torch.tensor([[0]]))[0, 0].exp().round(decimals=2).tolist()
    [0.25, 0.5, 0.25]
    """

    def __init__(self, vocab_size: int, num_categories: int = 0, smoothing: float = 1.0
                 ) -> None:
        super().__init__()
        self.smoothing = smoothing
        self.register_buffer("log_probs", torch.zeros(max(num_categories, 1), vocab_size,
                                                      vocab_size))

    def fit(self, inputs: Tensor, targets: Tensor, categories: Tensor | None = None
            ) -> "Bigram":
        """Count every (category, character, next character) of the training names."""
        categories = torch.zeros(len(inputs), dtype=torch.long) if categories is None \
            else categories
        counts = torch.full_like(self.log_probs, self.smoothing)
        keep = targets >= 0
        cats = categories[:, None].expand_as(inputs)
        counts.index_put_((cats[keep], inputs[keep], targets[keep]),
                          torch.ones(int(keep.sum())), accumulate=True)
        self.log_probs = (counts / counts.sum(dim=2, keepdim=True)).log()
        return self

    def forward(self, inputs: Tensor, categories: Tensor | None = None) -> Tensor:
        if categories is None or self.log_probs.shape[0] == 1:
            categories = torch.zeros(len(inputs), dtype=torch.long, device=inputs.device)
        return self.log_probs[categories[:, None].expand_as(inputs), inputs]
