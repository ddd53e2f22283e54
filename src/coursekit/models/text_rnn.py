"""Recurrent text classifiers of reports A, B and C (chapters C2, B3).

An embedding, a recurrent layer (RNN, LSTM or GRU; stacked, optionally bidirectional)
read over the *packed* sequence, so padding never enters the state, and a linear layer
on the last hidden state. Report A's IMDB model (Emb(1001, 64), a 2-layer LSTM of 256,
dropout 0.3) and report C's RNN, LSTM and BiLSTM variants are settings of this one class.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["TextRNN"]

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class TextRNN(nn.Module):
    """``model(ids, lengths) -> logits (N, num_classes)``.

    Args:
        vocab_size: rows of the embedding (id 0 is padding).
        embed_dim: size of a word vector.
        hidden_size: units per direction and layer.
        num_layers: stacked recurrent layers.
        cell: "rnn", "lstm" or "gru".
        bidirectional: also read the text backwards; the two last states are joined.
        dropout: between stacked layers and before the output layer.
        num_classes: outputs (2 for a sentiment label read with cross-entropy).
        pretrained: (vocab_size, embed_dim) vectors to start the embedding from.
        freeze_embedding: keep ``pretrained`` vectors fixed.
    Example:
        >>> model = TextRNN(100, cell="lstm", bidirectional=True)
        >>> model(torch.randint(1, 100, (3, 7)), torch.tensor([7, 4, 1])).shape
        torch.Size([3, 2])
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 64,
                 num_layers: int = 1, cell: str = "lstm", bidirectional: bool = False,
                 dropout: float = 0.0, num_classes: int = 2,
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
        self.rnn = _CELLS[cell](embed_dim, hidden_size, num_layers=num_layers,
                                batch_first=True, bidirectional=bidirectional,
                                dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        packed = pack_padded_sequence(self.embedding(ids), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, state = self.rnn(packed)
        hidden = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c)
        if self.rnn.bidirectional:  # last layer's forward and backward states
            last = torch.cat([hidden[-2], hidden[-1]], dim=1)
        else:
            last = hidden[-1]
        return self.fc(self.dropout(last))
