"""probe_batch_sizes: which batches fit, measured or extrapolated (CPU)."""

import torch
from torch import nn

from coursekit.training import memory


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


# ---------------------------------------------------------------- batch-size sweeps

import math  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402


def test_scale_lr_rules():
    assert memory.scale_lr(0.1, 512, 128, "linear") == pytest.approx(0.4)
    assert memory.scale_lr(0.1, 512, 128, "sqrt") == pytest.approx(0.2)
    assert memory.scale_lr(0.1, 512, 128, "constant") == 0.1
    assert memory.scale_lr(0.1, 32, 128, "sqrt") == pytest.approx(0.05)


def test_scale_lr_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="sqrt"):
        memory.scale_lr(0.1, 512, 128, "cubic")


def test_with_probe_adds_untrained_sizes_and_orders_by_batch():
    results = pd.DataFrame({"val_acc": [30.0, 31.0]}, index=["256", "128"])
    probe = [{"batch_size": 128, "peak_mb": 100.0, "fits": True, "how": "measured"},
             {"batch_size": 256, "peak_mb": 180.0, "fits": True, "how": "measured"},
             {"batch_size": 4096, "peak_mb": 2048.0, "fits": True, "how": "extrapolated"}]
    out = memory.with_probe(results, probe)
    assert list(out.index) == ["128", "256", "4096"]
    assert out.loc["4096", "probe_peak_gb"] == 2.0
    assert math.isnan(out.loc["4096", "val_acc"])        # probed, never trained
    assert out.loc["256", "val_acc"] == 30.0


def test_with_probe_out_of_memory_is_infinite_only_on_a_card_as_large_as_the_reports():
    probe = [{"batch_size": 16384, "peak_mb": math.nan, "fits": False,
              "how": "out of memory"}]
    empty = pd.DataFrame(index=pd.Index([], dtype=str))
    big = memory.with_probe(empty, probe, capacity_gb=47.99, device_total_gb=80.0)
    small = memory.with_probe(empty, probe, capacity_gb=47.99, device_total_gb=24.0)
    assert big.loc["16384", "probe_peak_gb"] == math.inf
    assert math.isnan(small.loc["16384", "probe_peak_gb"])


def test_training_plan_says_why_a_batch_size_is_not_trained():
    probe = [{"batch_size": 128, "peak_mb": 10.0, "fits": True, "how": "measured"},
             {"batch_size": 8192, "peak_mb": 90.0, "fits": True, "how": "extrapolated"},
             {"batch_size": 16384, "peak_mb": float("nan"), "fits": False,
              "how": "out of memory"}]
    plan = memory.training_plan(probe, 5000)
    assert plan["trained"].tolist() == [True, False, False]
    assert plan["why not"].tolist() == ["", "larger than the 5,000 training images",
                                        "out of memory"]


def test_the_sizes_left_out_say_why():
    plan = memory.training_plan([
        {"batch_size": 128, "peak_mb": 10.0, "fits": True, "how": "measured"},
        {"batch_size": 256, "peak_mb": 9e8, "fits": False, "how": "measured"},
        {"batch_size": 4096, "peak_mb": 9e9, "fits": False, "how": "extrapolated"},
        {"batch_size": 16384, "peak_mb": float("nan"), "fits": False,
         "how": "out of memory"}], num_examples=1000)
    assert memory.untrained_sizes(plan) == (
        "256 (over the memory limit); 4,096 (estimated not to fit in memory); "
        "16,384 (out of memory)")
