"""Time-series splits, windows and the forecaster loop on a made-up sine wave."""

import numpy as np
import torch
import pytest

from coursekit import models, training
from coursekit.tasks import series


def test_windows_reach_back_across_split_bounds_but_never_forward():
    values = np.arange(100.0)
    bounds = series.chronological_bounds(100, {"train": 0.7, "val": 0.1, "test": 0.2})
    X, y = series.windows(values, window=5, start=bounds["val"][0], stop=bounds["val"][1])
    assert y.tolist() == list(range(70, 80))
    assert (X[:, -1, 0] == y - 1).all() and (X.max(axis=(1, 2)) < y).all()
    X, y = series.windows(values, window=5, start=0, stop=10)
    assert y.tolist() == [5, 6, 7, 8, 9]              # no target without a full window
    with pytest.raises(ValueError, match="add up to 1"):
        series.chronological_bounds(10, {"train": 0.7, "test": 0.2})


def test_forecaster_learns_a_sine_wave():
    wave = (np.sin(np.arange(600) * 2 * np.pi / 24) + 1) / 2
    train, val = (series.windows(wave, window=24, start=a, stop=b)
                  for a, b in [(0, 500), (500, 600)])
    model = models.build_model("series_rnn", hidden_size=16, num_layers=1)
    history = training.fit(model, train, val, objective=training.Regression(), num_epochs=15,
                           batch_size=32, lr=0.01, progress=False)
    assert history.val_loss[-1] < 0.01 < history.train_loss[0]
    assert series.forecast(model, val[0]).shape == (100,)
    assert {"train_loss", "val_loss"} <= set(history.to_frame().columns)


def test_same_period_before_is_the_naive_forecast():
    values = np.arange(200.0)
    naive = series.same_period_before(values, start=100, stop=130, window=24)
    _, y = series.windows(values, window=24, start=100, stop=130)
    assert len(naive) == len(y) and (y - naive == 24).all()
    with pytest.raises(ValueError):
        series.same_period_before(values, start=0, stop=30, window=12)


def test_forecast_errors_in_scaled_and_original_units():
    from sklearn.preprocessing import MinMaxScaler
    scaler = MinMaxScaler().fit(np.array([[0.0], [400.0]]))
    errors = series.forecast_errors(np.array([0.5, 0.5]), np.array([0.5, 0.75]), scaler)
    assert errors["test_mse"] == pytest.approx(0.25 ** 2 / 2)
    assert errors["test_mae_kw"] == pytest.approx(100 / 4 / 2)   # 100 kW over 4, averaged


def wave_task(hours: int) -> tuple[dict, dict, object]:
    """A daily sine wave cut like B4's series: its windows per split, the same-hour-
    yesterday forecasts and the scaler fitted on the training 70 %."""
    from sklearn.preprocessing import MinMaxScaler
    wave = (np.sin(np.arange(hours) * 2 * np.pi / 24) + 1) / 2
    bounds = series.chronological_bounds(hours, {"train": 0.7, "val": 0.1, "test": 0.2})
    splits = {n: series.windows(wave, window=24, start=a, stop=b) for n, (a, b) in bounds.items()}
    naive = {n: series.same_period_before(wave, start=a, stop=b, window=24)
             for n, (a, b) in bounds.items() if n != "train"}
    return splits, naive, MinMaxScaler().fit(wave[:bounds["train"][1], None])


def test_compare_forecasters_adds_the_claims_ratios_and_a_naive_row():
    splits, naive, scaler = wave_task(400)
    results, histories, _ = series.compare_forecasters(
        {"baseline": (4, "adam"), "sgd": (4, "sgd"), "rmsprop": (4, "rmsprop")}, splits,
        naive, scaler, num_epochs=1, batch_size=32,
        learning_rates={"adam": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3})
    assert set(results.index) == {"baseline", "sgd", "rmsprop", "naive"}
    row = results.loc["baseline"]
    assert row["val_train_ratio"] == pytest.approx(row["val_mse"] / row["train_mse"])
    assert row["val_mse_vs_naive"] == pytest.approx(row["val_mse"] / results.loc["naive", "val_mse"])
    assert results.loc["naive", "test_mse"] < 1e-12   # a 24-step wave repeats (to rounding)
    assert results.loc["rmsprop", "s_per_epoch_vs_sgd"] > 0
    assert len(histories["sgd"].train_loss) == 1


def test_compare_forecasters_seed_sets_the_initial_weights():
    """Whatever ran before, the same seed builds the same networks (B4's seed used to
    be applied only after each network was built)."""
    splits, naive, scaler = wave_task(200)

    def run(noise_seed: int):
        torch.manual_seed(noise_seed)  # some earlier work that drew random numbers
        return series.compare_forecasters(
            {"baseline": (4, "adam")}, splits, naive, scaler, num_epochs=1, batch_size=32,
            learning_rates={"adam": 1e-3}, seed=0)[0].loc["baseline", "val_mse"]
    assert run(1) == run(2)


def test_forecasters_over_seeds_average_every_run_and_keep_the_first_seeds_curves():
    splits, naive, scaler = wave_task(200)
    setup = dict(num_epochs=1, batch_size=32, learning_rates={"adam": 1e-3, "sgd": 1e-2})
    variants = {"baseline": (4, "adam"), "sgd": (4, "sgd")}
    forecasts = series.forecasters_over_seeds(variants, splits, naive, scaler, seeds=[1, 0],
                                              **setup)
    per_seed = forecasts.per_seed
    assert list(per_seed.index[:3]) == ["baseline, seed 1", "sgd, seed 1", "naive, seed 1"]
    runs = per_seed.set_index(["variant", "seed"])["val_mse"]
    assert runs["baseline", 0] != runs["baseline", 1]          # each seed trains anew
    assert forecasts.results.loc["baseline", "val_mse"] == pytest.approx(runs["baseline"].mean())
    test_mse = per_seed.set_index(["variant", "seed"])["test_mse"]["baseline"]
    assert forecasts.results.loc["baseline", "test_mse_std"] == pytest.approx(test_mse.std())
    assert forecasts.results.loc["sgd", "optimizer"] == "sgd"  # labels kept beside the means
    means = forecasts.results.loc["baseline"]  # ratios of the means, as of one run's columns
    assert means["val_train_ratio"] == pytest.approx(means["val_mse"] / means["train_mse"])
    alone, histories, _ = series.compare_forecasters(variants, splits, naive, scaler, seed=1,
                                                     **setup)
    assert alone.loc["baseline", "val_mse"] == runs["baseline", 1]
    assert forecasts.histories["baseline"].val_loss == histories["baseline"].val_loss
    with pytest.raises(ValueError, match="one or more different seeds"):
        series.forecasters_over_seeds(variants, splits, naive, scaler, seeds=[], **setup)
