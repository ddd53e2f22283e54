"""Peak memory of a stretch of work: CUDA allocations on a GPU, resident set on a CPU.

On Linux the kernel's peak-RSS counter (VmHWM) can be reset by writing "5" to
``/proc/self/clear_refs``, so each training run reports its own peak rather than the
process's lifetime peak. Elsewhere the lifetime peak (``ru_maxrss``) is reported.
``probe_batch_sizes`` finds which batch sizes fit before a sweep trains them.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

__all__ = ["PeakMemory", "probe_batch_sizes"]


class PeakMemory:
    """Start measuring at construction; ``peak_mb()`` reads the peak since then (MB)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        else:
            _reset_peak_rss()

    def peak_mb(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return _peak_rss_mb()


def probe_batch_sizes(make_model: Callable[[], nn.Module], sample: torch.Tensor,
                      batch_sizes: list[int], device: torch.device,
                      limit_mb: float | None = None) -> list[dict]:
    """Which batch sizes fit: one forward and backward pass per size, smallest first.

    On CUDA each size is tried and an out-of-memory error marks it (and every larger
    size) as not fitting. On the CPU an allocation too large for RAM would swap or
    kill the process instead of raising, so only the two smallest sizes are measured
    and the rest extrapolated linearly against ``limit_mb`` (default: 80 % of the
    memory available now). ``sample`` is one input image (C, H, W), float.
    Returns one dict per size: batch_size, peak_mb, fits, how ("measured",
    "extrapolated" or "out of memory").
    """
    if device.type == "cpu" and limit_mb is None:
        import psutil
        limit_mb = 0.8 * (psutil.virtual_memory().available / 2**20 + _peak_rss_mb())
    rows, measured = [], []
    for batch_size in sorted(batch_sizes):
        if device.type == "cpu" and len(measured) == 2:
            (b0, m0), (b1, m1) = measured
            peak = m1 + (m1 - m0) / (b1 - b0) * (batch_size - b1)
            rows.append({"batch_size": batch_size, "peak_mb": peak,
                         "fits": peak < limit_mb, "how": "extrapolated"})
            continue
        try:
            peak = _one_step_peak_mb(make_model, sample, batch_size, device)
        except torch.cuda.OutOfMemoryError:
            rows.append({"batch_size": batch_size, "peak_mb": float("nan"),
                         "fits": False, "how": "out of memory"})
            break
        measured.append((batch_size, peak))
        rows.append({"batch_size": batch_size, "peak_mb": peak,
                     "fits": limit_mb is None or peak < limit_mb, "how": "measured"})
    for batch_size in sorted(batch_sizes)[len(rows):]:  # after an out-of-memory error
        rows.append({"batch_size": batch_size, "peak_mb": float("nan"), "fits": False,
                     "how": "out of memory"})
    return rows


def _one_step_peak_mb(make_model: Callable[[], nn.Module], sample: torch.Tensor,
                      batch_size: int, device: torch.device) -> float:
    model = make_model().to(device)
    inputs = sample.to(device).expand(batch_size, *sample.shape).contiguous()
    memory = PeakMemory(device)
    try:
        model(inputs).float().logsumexp(1).mean().backward()
        return memory.peak_mb()
    finally:
        del model, inputs
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the lifetime peak is reported instead


def _peak_rss_mb() -> float:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB -> MB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes or kB
