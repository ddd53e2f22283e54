"""Recurrent text classifiers of reports A, B and C (chapters C2, B3).

An embedding, a recurrent layer (RNN, LSTM or GRU; stacked, optionally bidirectional),
an optional hidden ReLU layer and a linear output on the text's last state. Report A's
IMDB model (Emb(1001, 64), a 2-layer LSTM of 256, dropout 0.3), report C's RNN, LSTM
and BiLSTM variants and report B's tweet LSTMs are settings of this one class.

Padding never enters a state, yet the recurrent layers run on the padded batch with
PyTorch's fused kernels: texts are padded *after* their words, so the forward
direction's state at a text's last word has read only the text (it is gathered there),
and the backward direction reads each text reversed within its length. The result is
the packed sequences' (tests/test_text.py); on 2 CPU cores, where packed LSTMs run one
time step at a time, a training step is 1.3x faster for an LSTM of 64, about even for a
BiLSTM of 64 and 7.8x faster for report A's 2 layers of 256 (benchmarks/text_rnn.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["TextRNN", "reverse_within"]

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """Each row's first ``length`` steps in reverse order; the padding stays where it is.

    >>> reverse_within(torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]), torch.tensor([3, 2]))
    tensor([[3, 2, 1, 0],
            [5, 4, 0, 0]])
    """
    steps = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)
    last = (lengths.to(x.device) - 1).unsqueeze(1)
    index = torch.where(steps <= last, last - steps, steps)
    if x.ndim == 3:
        index = index.unsqueeze(-1).expand_as(x)
    return x.gather(1, index)


class TextRNN(nn.Module):
    """``model(ids, lengths) -> logits (N, num_classes)``.

    Args:
        vocab_size: rows of the embedding (id 0 is padding).
        embed_dim: size of a word vector.
        hidden_size: units per direction and layer; or one size per layer, e.g.
            report C's 2-layer LSTM (64, 32) (one direction only; then it sets the
            number of layers).
        num_layers: stacked recurrent layers.
        cell: "rnn", "lstm" or "gru".
        bidirectional: also read the text backwards; the two last states are joined.
        dropout: before the output layer.
        rnn_dropout: between stacked recurrent layers.
        head: units of a hidden ReLU layer between the last state and the output
            (report C's Dense(64) or Dense(32)); 0 = none, the state goes to the output.
        num_classes: outputs (2 for a sentiment label read with cross-entropy).
        pretrained: (vocab_size, embed_dim) vectors to start the embedding from.
        freeze_embedding: keep ``pretrained`` vectors fixed.
    Example:
        >>> model = TextRNN(100, cell="lstm", bidirectional=True)
        >>> model(torch.randint(1, 100, (3, 7)), torch.tensor([7, 4, 1])).shape
        torch.Size([3, 2])
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64,
                 hidden_size: int | tuple[int, ...] = 64,
                 num_layers: int = 1, cell: str = "lstm", bidirectional: bool = False,
                 dropout: float = 0.0, rnn_dropout: float = 0.0, head: int = 0,
                 num_classes: int = 2,
                 pretrained: Tensor | None = None, freeze_embedding: bool = False) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(_CELLS)}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        if pretrained is not None:
            if tuple(pretrained.shape) != (vocab_size, embed_dim):
                raise ValueError(f"pretrained vectors have shape {tuple(pretrained.shape)}, "
                                 f"expected ({vocab_size}, {embed_dim})")
            self.embedding.weight.data.copy_(pretrained)
            self.embedding.weight.requires_grad_(not freeze_embedding)
        rnn = _CELLS[cell]
        self.bidirectional = bidirectional
        self.layers = None  # layers of different sizes, run one after another
        if isinstance(hidden_size, (tuple, list)) and len(set(hidden_size)) == 1:
            hidden_size, num_layers = hidden_size[0], len(hidden_size)  # the fused module
        if isinstance(hidden_size, (tuple, list)):
            if bidirectional:
                raise ValueError("hidden_size per layer is for one direction only; give "
                                 "a bidirectional TextRNN one size and num_layers")
            sizes = [embed_dim, *hidden_size]
            self.layers = nn.ModuleList(rnn(a, b, batch_first=True)
                                        for a, b in zip(sizes, sizes[1:]))
            self.between = nn.Dropout(rnn_dropout)
            hidden_size = sizes[-1]
        elif bidirectional:  # one module per layer and direction: each layer reads both
            sizes = [embed_dim] + [2 * hidden_size] * (num_layers - 1)
            self.forward_layers = nn.ModuleList(rnn(n, hidden_size, batch_first=True)
                                                for n in sizes)
            self.backward_layers = nn.ModuleList(rnn(n, hidden_size, batch_first=True)
                                                 for n in sizes)
            self.between = nn.Dropout(rnn_dropout)
        else:  # one fused multi-layer module
            self.rnn = rnn(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                           dropout=rnn_dropout if num_layers > 1 else 0.0)
        state_size = hidden_size * (2 if bidirectional else 1)
        self.head = (nn.Sequential(nn.Linear(state_size, head), nn.ReLU()) if head
                     else nn.Identity())
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(head or state_size, num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(ids)
        last = (lengths.to(ids.device) - 1).view(-1, 1, 1)
        if not self.bidirectional:  # the state after each text's last word
            if self.layers is not None:
                for i, layer in enumerate(self.layers):
                    x, _ = layer(self.between(x) if i else x)
            else:
                x, _ = self.rnn(x)
            state = x.gather(1, last.expand(-1, 1, x.shape[2])).squeeze(1)
        else:
            for i, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers)):
                if i:
                    x = self.between(x)
                ahead, _ = fwd(x)
                behind, _ = bwd(reverse_within(x, lengths))
                x = torch.cat([ahead, reverse_within(behind, lengths)], dim=2)
            hidden = x.shape[2] // 2  # forward state at the last word, backward at the first
            ahead_last = x[..., :hidden].gather(1, last.expand(-1, 1, hidden)).squeeze(1)
            state = torch.cat([ahead_last, x[:, 0, hidden:]], dim=1)
        return self.fc(self.dropout(self.head(state)))
