"""Encoder-decoder translators of report A (chapter A10), after PyTorch's seq2seq tutorial.

One class, ``Seq2Seq``, covers report A's GRU and LSTM models (embedding and hidden
size 256) and the tutorial's third model, a GRU decoder with Bahdanau attention. The
encoder reads the source as packed sequences, so its final state is the state after the
last real word; attention never looks at padding.

``model(src, src_lengths, tgt_in) -> logits (N, T, tgt_vocab)`` is the teacher-forced
training call (``tgt_in`` starts with the start-of-sentence id); ``model.greedy``
translates, returning ids and the attention weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["BahdanauAttention", "Seq2Seq"]

_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


class BahdanauAttention(nn.Module):
    """Additive attention: score(q, k) = v . tanh(W q + U k), padding masked out."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """query (N, 1, H), keys (N, S, H), mask (N, S) True at real words ->
        context (N, 1, H), weights (N, 1, S)."""
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys))).transpose(1, 2)
        weights = torch.softmax(scores.masked_fill(~mask[:, None], float("-inf")), dim=-1)
        return weights @ keys, weights


class Seq2Seq(nn.Module):
    """A recurrent encoder and decoder; optionally, the decoder attends to the source.

    Args:
        src_vocab, tgt_vocab: vocabulary sizes (id 0 is padding).
        hidden_size: embedding and state size (report A: 256).
        cell: "gru" or "lstm" (report A trained both).
        attention: give the decoder Bahdanau attention over the encoder's outputs.
        dropout: on the embeddings, as the tutorial.
        sos: id of the start-of-sentence token that begins ``tgt_in`` and decoding.
        eos: id of the end-of-sentence token that stops decoding.
    Example:
        >>> model = Seq2Seq(20, 30, hidden_size=8, attention=True)
        >>> model(torch.randint(1, 20, (2, 5)), torch.tensor([5, 3]),
        ...       torch.randint(1, 30, (2, 4))).shape
        torch.Size([2, 4, 30])
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, hidden_size: int = 256,
                 cell: str = "gru", attention: bool = False, dropout: float = 0.1,
                 sos: int = 2, eos: int = 3) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(_CELLS)}")
        self.sos, self.eos = sos, eos
        self.src_embedding = nn.Embedding(src_vocab, hidden_size, padding_idx=0)
        self.encoder = _CELLS[cell](hidden_size, hidden_size, batch_first=True)
        self.tgt_embedding = nn.Embedding(tgt_vocab, hidden_size, padding_idx=0)
        self.attention = BahdanauAttention(hidden_size) if attention else None
        self.decoder = _CELLS[cell](hidden_size * (2 if attention else 1), hidden_size,
                                    batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, tgt_vocab)

    def encode(self, src: Tensor, src_lengths: Tensor):
        """Encoder outputs (N, S, H), its final state, and the mask of real words."""
        packed = pack_padded_sequence(self.dropout(self.src_embedding(src)),
                                      src_lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        outputs, state = self.encoder(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])
        mask = torch.arange(src.shape[1], device=src.device) < src_lengths.to(src.device)[:, None]
        return outputs, state, mask

    def _step(self, tokens: Tensor, state, keys: Tensor, mask: Tensor):
        """Decode ``tokens`` (N, T) from ``state``: logits (N, T, V), state, weights."""
        x = torch.relu(self.dropout(self.tgt_embedding(tokens)))
        if self.attention is None:
            outputs, state = self.decoder(x, state)
            return self.out(outputs), state, None
        logits, weights = [], []
        for t in range(tokens.shape[1]):  # the query is the state before this word
            hidden = state[0] if isinstance(state, tuple) else state
            context, w = self.attention(hidden[-1][:, None], keys, mask)
            output, state = self.decoder(torch.cat([x[:, t:t + 1], context], dim=2), state)
            logits.append(self.out(output))
            weights.append(w)
        return torch.cat(logits, dim=1), state, torch.cat(weights, dim=1)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        keys, state, mask = self.encode(src, src_lengths)
        logits, _, _ = self._step(tgt_in, state, keys, mask)
        return logits

    @torch.inference_mode()
    def greedy(self, src: Tensor, src_lengths: Tensor, max_len: int = 12
               ) -> tuple[Tensor, Tensor | None]:
        """The likeliest word at each step: ids (N, <= max_len), ending at ``eos``, and
        the attention weights (N, steps, S) when the model attends."""
        keys, state, mask = self.encode(src, src_lengths)
        token = torch.full((len(src), 1), self.sos, dtype=torch.long, device=src.device)
        ids, weights = [], []
        done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            logits, state, w = self._step(token, state, keys, mask)
            token = logits[:, -1].argmax(dim=1, keepdim=True)
            ids.append(token)
            if w is not None:
                weights.append(w)
            done |= token[:, 0] == self.eos
            if done.all():
                break
        return torch.cat(ids, dim=1), torch.cat(weights, dim=1) if weights else None
