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


@pytest.mark.parametrize("name", ["super_lenet", "resnet18", "compact_cnn", "mlp_6x256"])
def test_kaiming_init_starts_the_output_layer_small_so_the_first_loss_is_ln_c(name):
    torch.manual_seed(0)
    model = init.kaiming_init(models.build_model(name, num_classes=7))
    output = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert output.out_features == 7  # the layer kaiming_init treats as the output layer
    assert output.weight.std().item() == pytest.approx(0.01, rel=0.25)
    assert torch.all(output.bias == 0.01)
    channels = 1 if name.startswith("mlp") else 3
    images, labels = torch.randn(64, channels, 32, 32), torch.randint(0, 7, (64,))
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model.train()(images), labels).item()
    assert loss == pytest.approx(math.log(7), abs=0.05)  # report A: within 0.03 of ln C


def test_kaiming_init_can_keep_kaimings_scale_on_the_output_layer():
    torch.manual_seed(0)
    model = init.apply_init(models.build_model("lenet"), "kaiming_all_layers")
    output = model.fc_model[-1]
    expected = math.sqrt(2 / (1 + 0.01**2) / output.in_features)
    assert output.weight.std().item() == pytest.approx(expected, rel=0.3)


def test_xavier_starts_near_ln_c_and_large_gaussian_far_above():
    torch.manual_seed(0)
    images, labels = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
    losses = {}
    for scheme in ("xavier", "large_gaussian"):
        model = models.build_model("super_lenet", init=scheme).eval()
        with torch.no_grad():
            losses[scheme] = torch.nn.functional.cross_entropy(model(images), labels).item()
    assert abs(losses["xavier"] - math.log(10)) < 1.0
    assert losses["large_gaussian"] > math.log(10) + 2.303


def test_apply_init_rejects_an_unknown_scheme():
    with pytest.raises(ValueError, match="kaiming"):
        init.apply_init(torch.nn.Linear(2, 2), "huge")

