"""coursekit.models.init and coursekit.tasks.findings: the schemes' scale, and the measures of how a run starts (A5)."""

import math

import pandas as pd
import pytest
import torch

from coursekit import models
from coursekit.models import init
from coursekit.tasks import findings
from coursekit.training import History, VariantRuns


def test_hockey_steps_counts_steps_until_the_loss_is_below_ln_c():
    assert findings.hockey_steps([40.0, 10.0, 2.4, 2.2], 10) == 3
    assert findings.hockey_steps([2.2, 2.4], 10) == 0           # starts below ln 10
    assert findings.hockey_steps([9.0, 8.0, 7.0], 200) == 3     # never below ln 200 = 5.30


def test_start_measures():
    history = History(step_loss=[41.3, 20.0, 5.0, 2.0], train_time_s=8.0)
    got = findings.start_measures(history, 10)
    assert got["excess_initial_loss"] == pytest.approx(41.3 - math.log(10))
    assert got["hockey_steps"] == 3
    assert got["time_to_chance_loss_s"] == pytest.approx(6.0)  # 3 steps of 2 s


def test_start_measures_of_an_empty_history_are_nan():
    assert all(math.isnan(v) for v in findings.start_measures(History(), 10).values())


def test_start_table_joins_measures_and_chance_ratios():
    results = pd.DataFrame({"val_acc": [0.5, 4.0], "initial_loss": [40.0, 5.3]},
                           index=["large_gaussian", "kaiming"])
    runs = VariantRuns(results, {
        "large_gaussian": History(step_loss=[40.0, 30.0], train_time_s=1.0),
        "kaiming": History(step_loss=[5.3, 5.2], train_time_s=1.0)}, {})
    table = findings.start_table(runs, 200)
    assert table.loc["kaiming", "hockey_steps"] == 1
    assert table.loc["large_gaussian", "hockey_steps"] == 2
    assert table.loc["large_gaussian", "val_acc_over_chance"] == pytest.approx(1.0)
    assert table.loc["kaiming", "initial_loss"] == 5.3


@pytest.mark.parametrize("scheme", ["kaiming", "xavier"])
def test_proper_schemes_start_near_ln_c_and_large_gaussian_far_above(scheme):
    torch.manual_seed(0)
    images, labels = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
    losses = {}
    for name in (scheme, "large_gaussian"):
        model = models.build_model("super_lenet", init=name).eval()
        with torch.no_grad():
            losses[name] = torch.nn.functional.cross_entropy(model(images), labels).item()
    assert abs(losses[scheme] - math.log(10)) < 1.0
    assert losses["large_gaussian"] > math.log(10) + 2.303


def test_apply_init_rejects_an_unknown_scheme():
    with pytest.raises(ValueError, match="kaiming"):
        init.apply_init(torch.nn.Linear(2, 2), "huge")

