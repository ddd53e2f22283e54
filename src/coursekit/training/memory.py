"""Peak memory of a stretch of work: CUDA allocations on a GPU, resident set on a CPU.

On Linux the kernel's peak-RSS counter (VmHWM) can be reset by writing "5" to
``/proc/self/clear_refs``, so each training run reports its own peak rather than the
process's lifetime peak. Elsewhere the lifetime peak (``ru_maxrss``) is reported.
``probe_batch_sizes`` finds which batch sizes fit before a sweep trains them;
``scale_lr`` and ``with_probe`` serve the batch-size sweep of chapter A6.
"""

from __future__ import annotations

import math
import resource
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

__all__ = ["LR_RULES", "PeakMemory", "WHY_NOT_FITS", "probe_batch_sizes", "scale_lr",
           "training_plan", "untrained_sizes", "with_probe"]


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


# why a probed batch size does not fit, by the probe's "how"
WHY_NOT_FITS = {"out of memory": "out of memory", "measured": "over the memory limit",
                "extrapolated": "estimated not to fit in memory"}


def training_plan(probe: list[dict], num_examples: int) -> "pd.DataFrame":
    """Which probed batch sizes a sweep trains, and why each other one is not: the rows
    of :func:`probe_batch_sizes` with ``trained`` and ``why not`` (:data:`WHY_NOT_FITS`
    by how the peak was found: "out of memory", as report A records its 16,384; "over
    the memory limit" for a measured peak, "estimated not to fit in memory" for an
    extrapolated one; or "larger than the N training images", where a step would see
    every image at once and an epoch would be a single step)."""
    import pandas as pd
    plan = pd.DataFrame(probe)
    too_big = plan["batch_size"] > num_examples
    plan["trained"] = plan["fits"] & ~too_big
    plan["why not"] = ""
    plan.loc[~plan["fits"], "why not"] = plan.loc[~plan["fits"], "how"].map(WHY_NOT_FITS)
    plan.loc[plan["fits"] & too_big, "why not"] = (
        f"larger than the {num_examples:,} training images")
    return plan


def untrained_sizes(plan: "pd.DataFrame") -> str:
    """The batch sizes a :func:`training_plan` leaves out, each with why, e.g.
    "8,192 (larger than the 2,000 training images)"; "none" when it trains every one."""
    left = plan.loc[~plan["trained"]]
    return "; ".join(f"{size:,} ({why})" for size, why in
                     zip(left["batch_size"], left["why not"])) or "none"


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


# ---------------------------------------------------------------- batch-size sweeps

LR_RULES = ("linear", "sqrt", "constant")


def scale_lr(base_lr: float, batch_size: int, base_batch: int, rule: str) -> float:
    """The learning rate for ``batch_size``, scaled from ``base_lr`` at ``base_batch``.

    ``linear`` multiplies by k = batch_size / base_batch (Goyal et al., 2017, for SGD),
    ``sqrt`` by sqrt(k) (the noise of a step shrinks by sqrt(k); the usual choice for
    Adam), ``constant`` keeps ``base_lr``.

    Example:
        >>> scale_lr(0.001, 512, 128, "sqrt")
        0.002

    Raises:
        ValueError: for a rule not in ``LR_RULES``.
    """
    factor = {"linear": batch_size / base_batch, "sqrt": (batch_size / base_batch) ** 0.5,
              "constant": 1.0}
    if rule not in factor:
        raise ValueError(f"lr rule {rule!r}: choose one of {', '.join(LR_RULES)}")
    return base_lr * factor[rule]


def with_probe(results: "pd.DataFrame", probe: list[dict],
               capacity_gb: float | None = None,
               device_total_gb: float | None = None) -> "pd.DataFrame":
    """A batch-size sweep's results (indexed by the batch size as a string) joined
    with the rows of :func:`probe_batch_sizes`, one row per probed size: sizes that
    were probed but not trained get a row of their own.

    Adds ``probe_peak_mb`` (one forward and backward pass) and ``probe_peak_gb``. A
    size that ran out of memory has no measurement; where the device has at least
    ``capacity_gb`` (the card a report ran on) it needed more than that, so its
    ``probe_peak_gb`` is +inf, otherwise NaN (nothing can be said).
    """
    import pandas as pd
    rows = {}
    for row in probe:
        gb = row["peak_mb"] / 1024
        if row["how"] == "out of memory":
            roomy = (capacity_gb is not None and device_total_gb is not None
                     and device_total_gb >= capacity_gb)
            gb = math.inf if roomy else math.nan
        rows[str(int(row["batch_size"]))] = {"probe_peak_mb": row["peak_mb"],
                                             "probe_peak_gb": gb}
    probed = pd.DataFrame.from_dict(rows, orient="index")
    out = results.drop(columns=[c for c in probed if c in results]).join(probed,
                                                                         how="outer")
    order = sorted(out.index, key=lambda b: int(b) if str(b).isdigit() else math.inf)
    return out.loc[order]
