"""Reading padded texts: ``models.TextRNN`` against packed sequences, side by side.

Both give the same outputs (tests/test_text.py); this measures what each costs. One
training step (forward, backward) of a recurrent layer over a batch of texts whose
lengths are drawn like cleaned IMDB reviews cut at ``--max-len``:

- packed: ``pack_padded_sequence`` into ``nn.LSTM``, PyTorch's usual way to skip padding;
- coursekit: the padded batch through the fused kernel, the state gathered at each
  text's last word (``TextRNN``'s way; see ``coursekit.models.text_rnn``).

Each is timed ``--repeats`` times, interleaved, and its best time counts.

Usage: python benchmarks/text_rnn.py [--batch-size 128] [--max-len 200]
Prints one row per setting with both times and their ratio.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from coursekit.models.text_rnn import TextRNN

SETTINGS = [  # (label, TextRNN keywords): report C's LSTM and BiLSTM, report A's LSTM
    ("LSTM 64, emb 256 (report C)", dict(embed_dim=256, hidden_size=64)),
    ("BiLSTM 64, emb 256 (report C)", dict(embed_dim=256, hidden_size=64,
                                           bidirectional=True)),
    ("2-layer LSTM 128, emb 64", dict(embed_dim=64, hidden_size=128, num_layers=2)),
    ("2-layer LSTM 256, emb 64 (report A)", dict(embed_dim=64, hidden_size=256,
                                                 num_layers=2)),
]


class PackedRNN(nn.Module):
    """The textbook classifier: embedding, packed (Bi)LSTM, linear on the last states."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int,
                 num_layers: int = 1, bidirectional: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                           bidirectional=bidirectional)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), 2)

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.embedding(ids), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, (hidden, _) = self.rnn(packed)
        last = (torch.cat([hidden[-2], hidden[-1]], 1) if self.rnn.bidirectional
                else hidden[-1])
        return self.fc(last)


def step_seconds(model: nn.Module, ids, lengths, labels, repeats: int) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters())
    times = []
    for _ in range(repeats + 1):  # the first step warms up
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(ids, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    vocab_size = 20000
    # cleaned IMDB reviews: median 80 tokens, long tail; one text at the maximum
    lengths = torch.distributions.LogNormal(4.4, 0.7).sample((args.batch_size,))
    lengths = lengths.long().clamp(1, args.max_len)
    lengths[0] = args.max_len
    ids = torch.randint(1, vocab_size, (args.batch_size, args.max_len))
    ids *= torch.arange(args.max_len) < lengths[:, None]
    labels = torch.randint(0, 2, (args.batch_size,))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; batch {args.batch_size}, "
          f"texts of {int(lengths.float().mean())} tokens on average, at most "
          f"{args.max_len}")
    print(f"{'setting':38} {'packed (ms)':>12} {'coursekit (ms)':>15} {'ratio':>7}")
    for label, kwargs in SETTINGS:
        ours = TextRNN(vocab_size, **kwargs)
        packed = PackedRNN(vocab_size, **kwargs)
        best = {"packed": float("inf"), "ours": float("inf")}
        for _ in range(args.repeats):  # interleaved: drift hits both alike
            best["packed"] = min(best["packed"], *step_seconds(packed, ids, lengths, labels, 1))
            best["ours"] = min(best["ours"], *step_seconds(ours, ids, lengths, labels, 1))
        print(f"{label:38} {1000 * best['packed']:12.1f} {1000 * best['ours']:15.1f} "
              f"{best['packed'] / best['ours']:7.1f}")


if __name__ == "__main__":
    main()
