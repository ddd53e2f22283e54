"""probe_batch_sizes: which batches fit, measured or extrapolated (CPU)."""

import torch
from torch import nn

from coursekit import memory


def test_cpu_probe_measures_two_sizes_and_extrapolates_the_rest():
    rows = memory.probe_batch_sizes(lambda: nn.Sequential(nn.Flatten(), nn.Linear(48, 3)),
                                    torch.zeros(3, 4, 4), [64, 8, 16, 32],
                                    torch.device("cpu"), limit_mb=1e9)
    assert [r["batch_size"] for r in rows] == [8, 16, 32, 64]
    assert [r["how"] for r in rows] == ["measured", "measured", "extrapolated",
                                        "extrapolated"]
    assert all(r["fits"] and r["peak_mb"] > 0 for r in rows)


def test_cpu_probe_marks_sizes_over_the_limit():
    rows = memory.probe_batch_sizes(lambda: nn.Linear(4, 2), torch.zeros(4), [1, 2, 4],
                                    torch.device("cpu"), limit_mb=1.0)
    assert not any(r["fits"] for r in rows)   # the process alone is above 1 MB
