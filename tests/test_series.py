"""Time-series splits, windows and the forecaster loop on a made-up sine wave."""

import numpy as np
import pytest

from coursekit import models, series


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
    history = series.fit_forecaster(model, train, val, num_epochs=15, lr=0.01)
    assert history.val_mse[-1] < 0.01 < history.train_mse[0]
    assert series.forecast(model, val[0]).shape == (100,)
    assert list(history.to_frame().columns) == ["train_mse", "val_mse", "epoch_time_s"]
