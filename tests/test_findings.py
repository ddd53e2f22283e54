"""coursekit.tasks.findings: the derived quantities several chapters' claims read."""

import math

import pandas as pd
import pytest

from coursekit import training
from coursekit.tasks import findings


def history(train_loss, val_loss, step_loss):
    h = training.History(epoch=list(range(1, len(train_loss) + 1)), train_loss=train_loss,
                         val_loss=val_loss, step_loss=step_loss)
    h.best_epoch = 1 + val_loss.index(min(val_loss))
    return h


def test_measures_add_gaps_and_per_run_quantities():
    results = pd.DataFrame({"train_acc": [80.0, 70.0], "val_acc": [60.0, 68.0],
                            "test_acc": [59.0, 67.0]}, index=["plain", "dropout"])
    runs = {"plain": history([2.0, 1.0], [1.5, 1.6], [2.2, 1.8, 1.1, 0.9]),
            "dropout": history([2.1, 1.4], [1.6, 1.2], [2.2, 2.0, 1.4, 1.4])}
    out = findings.measures(results, runs)
    assert out.loc["plain", "train_val_gap"] == 20.0
    assert out.loc["dropout", "train_test_gap"] == 3.0
    assert out.loc["plain", "final_train_loss"] == 1.0
    assert out.loc["plain", "epochs_after_best"] == 1   # best val loss at epoch 1 of 2
    assert out.loc["dropout", "epochs_after_best"] == 0
    assert out.loc["dropout", "loss_volatility"] == 0.0  # last epoch's steps alike
    assert out.loc["plain", "loss_volatility"] > 0


def test_loss_volatility_measures_from_the_floor():
    assert findings.loss_volatility([1.0, 1.0]) == 0.0
    assert math.isnan(findings.loss_volatility([1.0]))
    floor = findings.smoothed_target_entropy(0.1, 10)
    assert findings.loss_volatility([0.6, 0.8], floor) == pytest.approx(
        findings.loss_volatility([0.1, 0.3]), rel=0.01)


def test_add_chance_ratios_on_10_and_200_classes():
    results = pd.DataFrame({"train_acc": [15.0], "val_acc": [0.75]})
    ten = findings.add_chance_ratios(results, 10)
    assert ten.loc[0, "train_acc_over_chance"] == pytest.approx(1.5)
    two_hundred = findings.add_chance_ratios(results, 200)
    assert two_hundred.loc[0, "val_acc_over_chance"] == pytest.approx(1.5)
    assert "test_acc_over_chance" not in two_hundred


def test_add_chance_ratios_rejects_one_class():
    with pytest.raises(ValueError, match="at least 2"):
        findings.add_chance_ratios(pd.DataFrame({"val_acc": [1.0]}), 1)


def test_seed_means_average_each_variant_over_the_seeds_it_ran():
    runs = {0: pd.DataFrame({"test_acc": [80.0, 60.0], "stopped": [True, False]},
                            index=["a", "b"]),
            1: pd.DataFrame({"test_acc": [84.0], "stopped": [False]}, index=["a"])}
    stacked = findings.stack_seeds(runs)
    assert stacked.loc["a, seed 1", "variant"] == "a" and stacked.loc["a, seed 1", "seed"] == 1
    means = findings.seed_means(stacked)
    assert list(means.index) == ["a", "b"] and list(means.columns) == ["test_acc", "stopped"]
    assert means.loc["a", "test_acc"] == 82.0 and means.loc["b", "test_acc"] == 60.0
    # a flag is not averaged: kept where the seeds agree, NaN where they do not
    assert math.isnan(means.loc["a", "stopped"]) and not means.loc["b", "stopped"]
