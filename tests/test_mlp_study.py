"""coursekit.tasks.mlp_study: the quantities report E's claims (E1-E3) are checked on."""

import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from coursekit import models
from coursekit.book import claims
from coursekit.tasks import mlp_study
from coursekit.training import diagnostics, History


def _history(losses, epoch_times=None):
    n = len(losses)
    return History(epoch=list(range(1, n + 1)), train_loss=list(losses),
                   train_acc=[50.0] * n, val_loss=list(losses), val_acc=[50.0] * n,
                   lr=[1e-3] * n, epoch_time_s=list(epoch_times or [1.0] * n))


def _grads(*values):
    """A GradientRecorder-like table of one epoch: layer 1 next to the input."""
    return pd.DataFrame({"epoch": 1, "layer": range(1, len(values) + 1),
                         "mean_abs_grad": values, "mean_abs_weight": 0.05})


def _runs(histories, watchers=None):
    results = pd.DataFrame({"train_acc": 50.0, "time_s": 1.0},
                           index=pd.Index(list(histories), name="variant"))
    return SimpleNamespace(results=results, histories=histories, watchers=watchers or {})


def _one_step_recorder(activation: str, num_hidden: int) -> diagnostics.GradientRecorder:
    torch.manual_seed(0)
    model = models.build_model("mlp", activation=activation, num_hidden=num_hidden)
    recorder = diagnostics.GradientRecorder(model)
    images, labels = torch.rand(64, 1, 32, 32), torch.randint(0, 10, (64,))
    torch.nn.functional.cross_entropy(model(images), labels).backward()
    recorder(model, None)
    return recorder


def test_variant_names_round_trip_and_reject_other_patterns():
    assert mlp_study.parse_depth_variant(mlp_study.depth_variant("relu", 7)) == ("relu", 7)
    assert mlp_study.parse_seed_variant(mlp_study.seed_variant("dropout", 3)) == \
        ("dropout", 3)
    with pytest.raises(ValueError, match="depth"):
        mlp_study.parse_depth_variant("relu")
    with pytest.raises(ValueError, match="seed"):
        mlp_study.parse_seed_variant("dropout")


def test_loss_drop_needs_two_epochs():
    assert mlp_study.loss_drop(_history([2.3, 2.0, 1.8])) == pytest.approx(0.5)
    assert math.isnan(mlp_study.loss_drop(_history([2.3])))


def test_gradient_measures_read_one_epoch_from_input_to_output():
    frame = pd.concat([_grads(1e-4, 1e-3, 0.1), _grads(0.1, 0.1, 0.1).assign(epoch=2)])
    assert diagnostics.first_layer_grad_ratio(frame) == pytest.approx(1e-3)
    assert diagnostics.first_layer_grad_ratio(frame, epoch=2) == pytest.approx(1.0)
    assert mlp_study.visible_layers(frame) == 2          # 1 % of the output's counts
    assert mlp_study.visible_layers(frame, threshold=0.1) == 1
    assert mlp_study.visible_layers(frame, threshold=1e-3) == 3
    with pytest.raises(ValueError, match="epoch 3"):
        diagnostics.layer_gradients(frame, epoch=3)


def test_a_deep_sigmoid_network_passes_less_gradient_back_than_a_relu_one():
    sigmoid = _one_step_recorder("sigmoid", num_hidden=9)
    relu = _one_step_recorder("relu", num_hidden=9)
    assert diagnostics.first_layer_grad_ratio(sigmoid) < \
        0.01 * diagnostics.first_layer_grad_ratio(relu)
    assert mlp_study.visible_layers(sigmoid) < mlp_study.visible_layers(relu)


def test_activation_measures_feed_e1s_claims():
    histories = {"sigmoid": _history([2.3, 2.2], [9.0, 1.2]),
                 "tanh": _history([2.2, 1.9], [1.1, 1.1]),
                 "relu": _history([2.1, 1.7], [1.0, 1.0]),
                 "leaky_relu": _history([2.1, 1.75], [1.2, 1.3])}
    watchers = {"sigmoid": _grads(1e-3, 0.1), "tanh": _grads(0.02, 0.1),
                "relu": _grads(0.05, 0.1), "leaky_relu": _grads(0.05, 0.1)}
    out = mlp_study.activation_measures(_runs(histories, watchers))
    assert out.loc["sigmoid", "final_train_loss"] == 2.2
    assert out.loc["sigmoid", "epoch_time_s"] == pytest.approx(5.1)  # median of two
    assert out.loc["tanh", "first_layer_grad_ratio"] == pytest.approx(0.2)
    # the speed claims read steps timed in turns (training.step_times), a 3 % lead
    out["step_ms"] = {"sigmoid": 15.0, "tanh": 16.0, "relu": 14.0, "leaky_relu": 14.8}
    rows = claims.evaluate("E1", out, profile="smoke")
    verdict = dict(zip(rows["claim"], rows["verdict"]))
    assert verdict["sigmoid_learns_slowest"] == claims.HOLDS
    assert verdict["relu_learns_fastest"] == claims.HOLDS
    assert verdict["leaky_learns_less_than_relu"] == claims.HOLDS
    assert verdict["sigmoid_smallest_gradient"] == claims.HOLDS
    assert verdict["relu_faster_per_epoch"] == claims.HOLDS
    assert verdict["leaky_faster_per_epoch"] == claims.FAILS   # 1.3 % ahead of sigmoid
    # no gradient recorder: the gradient claims are not tested
    plain = mlp_study.activation_measures(_runs(histories)).assign(step_ms=out["step_ms"])
    rows = claims.evaluate("E1", plain, profile="smoke")
    assert set(rows.loc[rows["verdict"] == claims.UNTESTED, "claim"]) == \
        {"sigmoid_smallest_gradient", "tanh_larger_gradient_than_sigmoid"}


def _depth_runs():
    histories, watchers = {}, {}
    for depth in (1, 2, 3, 9):
        # relu learns at every depth; sigmoid stalls beyond 3 and loses its gradient
        sigmoid_drop = 0.5 if depth <= 3 else 0.01
        histories[mlp_study.depth_variant("relu", depth)] = _history([2.3, 2.3 - 0.4])
        histories[mlp_study.depth_variant("sigmoid", depth)] = \
            _history([2.3, 2.3 - (0.4 if depth == 1 else sigmoid_drop)])
        watchers[mlp_study.depth_variant("relu", depth)] = _grads(*[0.05] * depth)
        watchers[mlp_study.depth_variant("sigmoid", depth)] = \
            _grads(*[1e-6] * (depth - 3), *[0.05] * min(depth, 3))
    return _runs(histories, watchers)


def test_depth_measures_compute_every_key_e2s_claims_read():
    out = mlp_study.depth_measures(_depth_runs(), num_classes=10)
    assert out.loc["sigmoid, depth 9", "loss_drop"] == pytest.approx(0.01)
    assert out.loc["sigmoid, depth 9", "mean_train_loss"] == pytest.approx(2.295)
    assert out.loc["sigmoid, depth 2", "mean_train_loss"] == pytest.approx(2.05)
    assert out.loc["sigmoid, depth 9", "visible_layers"] == 3
    assert out.loc["sigmoid, depth 9", "invisible_layers"] == 6
    assert out.loc["relu, depth 9", "invisible_layers"] == 0
    assert out.loc["relu, depth 9", "progress_ratio"] == pytest.approx(1.0)
    assert out.loc["sigmoid, depth 9", "progress_ratio"] == \
        pytest.approx((math.log(10) - 2.295) / (math.log(10) - 2.05))
    assert out.loc["sigmoid, depth 1", "loss_gap_to_relu"] == pytest.approx(0.0)
    assert math.isnan(out.loc["relu, depth 1", "loss_gap_to_relu"])
    assert mlp_study.stalled_depths(out, "sigmoid") == [9]
    assert mlp_study.stalled_depths(out, "relu") == []
    rows = claims.evaluate("E2", out, profile="smoke")
    verdict = dict(zip(rows["claim"], rows["verdict"]))
    assert verdict["depth1_same_for_both"] == claims.HOLDS
    assert verdict["relu_learns_every_depth"] == claims.UNTESTED  # depths 4-8 missing
    assert verdict["sigmoid_stalls_at_9_10"] == claims.UNTESTED   # depth 10 missing


def test_a_reference_depth_that_did_not_learn_gives_no_ratio():
    runs = _runs({"relu, depth 2": _history([2.3, 2.29]),
                  "relu, depth 5": _history([2.3, 2.0])})
    out = mlp_study.depth_measures(runs, num_classes=10)
    assert out["progress_ratio"].isna().all()
    assert "visible_layers" not in out                          # no recorder watched
    one_epoch = mlp_study.depth_measures(_runs({"relu, depth 2": _history([2.3])}),
                                         num_classes=10)
    assert math.isnan(one_epoch.loc["relu, depth 2", "loss_drop"])


@pytest.mark.parametrize("depth4_curve, verdict", [([2.2, 2.0], claims.HOLDS),
                                                   ([1.8, 1.7], claims.FAILS)])
def test_sigmoid_slows_with_depth_reads_the_whole_curve(depth4_curve, verdict):
    # depth 2 learns most within its first epoch: its first-to-last drop (0.1) is the
    # smallest, yet its curve lies lowest; the claim is decided by the mean loss
    curves = {2: [1.9, 1.8], 4: depth4_curve, 6: [2.25, 2.1], 8: [2.3, 2.2]}
    runs = _runs({mlp_study.depth_variant("sigmoid", d): _history(c) for d, c in curves.items()})
    out = mlp_study.depth_measures(runs, num_classes=10)
    rows = claims.evaluate("E2", out, profile="smoke").set_index("claim")
    assert rows.loc["sigmoid_slows_with_depth", "verdict"] == verdict


def test_depth_frames_label_each_row():
    curves, layers = mlp_study.depth_frames(_depth_runs())
    assert set(curves["activation"]) == {"relu", "sigmoid"}
    assert len(curves) == 8 * 2 and {"epoch", "train_loss", "depth"} <= set(curves)
    sigmoid9 = layers[(layers["activation"] == "sigmoid") & (layers["depth"] == 9)]
    assert sorted(sigmoid9["layer"]) == list(range(1, 10))


def _seed_results():
    rows = {}
    for method, (train, val, test) in {"baseline": (100.0, 80.0, 78.0),
                                       "L1": (60.0, 58.0, 55.0), "L2": (11.0, 10.0, 10.1),
                                       "dropout": (99.0, 86.0, 85.0),
                                       "shallow": (100.0, 85.0, 84.0)}.items():
        for seed in (0, 1):
            rows[mlp_study.seed_variant(method, seed)] = {
                "train_acc": train, "val_acc": val - seed, "test_acc": test + seed}
    return pd.DataFrame.from_dict(rows, orient="index")


def test_method_means_average_over_seeds_and_feed_e3s_claims():
    per_seed = mlp_study.by_seed(_seed_results())
    assert per_seed.loc["dropout, seed 1", "method"] == "dropout"
    assert per_seed.loc["dropout, seed 1", "train_val_gap"] == pytest.approx(14.0)
    means = mlp_study.method_means(per_seed)
    assert list(means.index) == ["baseline", "L1", "L2", "dropout", "shallow"]
    assert means.loc["baseline", "train_val_gap"] == pytest.approx(20.5)
    assert means.loc["dropout", "test_acc"] == pytest.approx(85.5)
    assert mlp_study.seed_spread(per_seed) == pytest.approx(math.sqrt(0.5))
    assert mlp_study.near_chance(means) == ["L2"]
    rows = claims.evaluate("E3", means, profile="smoke")
    verdict = dict(zip(rows["claim"], rows["verdict"]))
    assert verdict["baseline_overfits"] == claims.HOLDS
    assert verdict["ranking_dropout_l2_l1"] == claims.FAILS     # L2 collapsed
    assert verdict["dropout_narrows_gap"] == claims.HOLDS
    assert verdict["l1_worst"] == claims.FAILS
    assert verdict["depth_causes_overfitting"] == claims.HOLDS


def test_penalty_sweep_picks_the_best_coefficient_per_penalty():
    swept = mlp_study.by_strength(pd.DataFrame(
        {"val_acc": [80.0, 84.0, 84.0, 70.0, 10.0]},
        index=["L1 1e-06", "L1 1e-05", "L1 0.001", "L2 1e-06", "L2 1"]))
    assert swept.loc["L2 1", "coefficient"] == 1.0
    assert mlp_study.best_strength(swept) == {"L1": 1e-05, "L2": 1e-06}
