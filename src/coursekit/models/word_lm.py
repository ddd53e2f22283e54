"""Report A's word-level language models (chapter A8): embedding, stacked LSTM, scores
over the vocabulary for the next word at every position."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["WordLSTM"]


class WordLSTM(nn.Module):
    """Embedding -> dropout -> LSTM (``num_layers``, dropout between layers) -> dropout
    -> Linear to the vocabulary. ``tie_weights`` scores words against the embedding
    matrix itself (Press & Wolf, 2017): report A's WordModel1 prints no output layer,
    and with embedding and hidden both 256 that is how it can score words.

    >>> import torch
    >>> WordLSTM(50, embed_dim=8, hidden_size=8, tie_weights=True)(
    ...     torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 50])
    """

    def __init__(self, vocab_size: int, embed_dim: int = 256, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.0, tie_weights: bool = False
                 ) -> None:
        super().__init__()
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(f"tied weights need embed_dim == hidden_size, got "
                             f"{embed_dim} and {hidden_size}")
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.fc.weight = self.embedding.weight

    def forward(self, ids: Tensor) -> Tensor:
        """Next-word logits (N, T, vocab) for word ids (N, T)."""
        outputs, _ = self.lstm(self.dropout(self.embedding(ids)))
        return self.fc(self.dropout(outputs))
