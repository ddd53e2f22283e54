"""Time series for forecasting (chapter B4): split in time, scale, window, train.

The order of operations matters and is where forecasting goes wrong most often:
split in time order first, fit the min-max scaler on the training part only (else
the test period's range leaks into training), then cut sliding windows, where each
target's window may reach back into the previous split (the past is known).

>>> import numpy as np
>>> series = np.arange(10.0)
>>> X, y = windows(series, window=3, start=5, stop=8)
>>> X[:, :, 0].tolist(), y.tolist()
([[2.0, 3.0, 4.0], [3.0, 4.0, 5.0], [4.0, 5.0, 6.0]], [5.0, 6.0, 7.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coursekit.training.evaluation import predict_values as forecast


__all__ = ["Forecasts", "RATIOS", "chronological_bounds", "compare_forecasters", "forecast",
           "forecast_errors", "forecast_ratios", "forecasters_over_seeds",
           "same_period_before", "to_original", "windows"]


def chronological_bounds(length: int, fractions: dict[str, float]) -> dict[str, tuple[int, int]]:
    """(start, stop) of each split, in time order, e.g. {"train": 0.7, "val": 0.1,
    "test": 0.2}; the last split takes what rounding leaves.

    >>> chronological_bounds(10, {"train": 0.7, "val": 0.1, "test": 0.2})
    {'train': (0, 7), 'val': (7, 8), 'test': (8, 10)}
    """
    if abs(sum(fractions.values()) - 1) > 1e-6:
        raise ValueError(f"split fractions {fractions} must add up to 1")
    bounds, start = {}, 0
    for i, (name, fraction) in enumerate(fractions.items()):
        stop = length if i == len(fractions) - 1 else start + round(fraction * length)
        bounds[name] = (start, stop)
        start = stop
    return bounds


def windows(series: np.ndarray, *, window: int, start: int, stop: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, window, 1) and targets (N,) for every target index in [start, stop).

    The window of target t is series[t - window:t]; targets with less history than
    ``window`` are skipped.
    """
    first = max(start, window)
    view = np.lib.stride_tricks.sliding_window_view(series, window)  # (L - w + 1, w)
    inputs = view[first - window:stop - window]
    return np.ascontiguousarray(inputs[:, :, None], dtype=np.float32), \
        series[first:stop].astype(np.float32)


def same_period_before(series: np.ndarray, *, start: int, stop: int, window: int,
                       period: int = 24) -> np.ndarray:
    """The naive forecast for the targets :func:`windows` cuts from ``[start, stop)``:
    the value ``period`` steps earlier (24 hourly steps: the same hour yesterday).

    >>> same_period_before(np.arange(100.0), start=70, stop=73, window=24).tolist()
    [46.0, 47.0, 48.0]
    """
    first = max(start, window)
    if first < period:
        raise ValueError(f"the first target ({first}) has no value {period} steps before it")
    return series[first - period:stop - period]


def to_original(values: np.ndarray, scaler, divisor: float = 1.0) -> np.ndarray:
    """Scaled values back in the series' units (``scaler.inverse_transform``), divided
    by ``divisor`` (4 turns a sum of four 15-minute kW readings into mean kW)."""
    return scaler.inverse_transform(np.asarray(values)[:, None]).ravel() / divisor


def forecast_errors(predicted: np.ndarray, truth: np.ndarray, scaler,
                    divisor: float = 4.0) -> dict[str, float]:
    """``test_mse`` on the scaled series (report B's measure) and ``test_mae_kw``, the
    mean absolute error in the original units over ``divisor`` (see :func:`to_original`)."""
    return {"test_mse": float(np.mean((predicted - truth) ** 2)),
            "test_mae_kw": float(np.mean(np.abs(to_original(predicted, scaler, divisor)
                                                - to_original(truth, scaler, divisor))))}


def compare_forecasters(variants: dict[str, tuple[int, str]],
                        splits: dict[str, tuple[np.ndarray, np.ndarray]],
                        naive: dict[str, np.ndarray], scaler, *, num_epochs: int,
                        batch_size: int, learning_rates: dict[str, float], seed: int = 0,
                        model: str = "series_rnn"):
    """Train one forecaster per variant (name -> (hidden units, optimizer)) with
    ``training.fit_variants`` and the ``Regression`` objective (MSE, mini-batches in
    shuffled order, no learning-rate schedule; "sgd" is plain SGD), and score it beside
    the naive forecast ``naive`` (split -> predictions).

    Returns ``(results, histories, predictions)``; ``results`` is indexed by variant,
    with a ``naive`` row, and has hidden, optimizer, train_mse and val_mse (last
    epoch), test_mse, test_mae_kw, s_per_epoch (mean), parameters, and the ratios the
    report's claims are checked on: ``val_train_ratio`` (val_mse / train_mse),
    ``val_mse_vs_naive`` (val_mse / the naive forecast's validation MSE) and, when both
    run, ``s_per_epoch_vs_sgd`` on the ``rmsprop`` row (its s_per_epoch / sgd's).
    """
    import pandas as pd

    from coursekit import training
    recipe = training.FitConfig(num_epochs=num_epochs, batch_size=batch_size, momentum=0.0,
                                seed=seed)
    arms = [training.Variant(name, model, {"optimizer": rule, "lr": learning_rates[rule]},
                             {"hidden_size": hidden})
            for name, (hidden, rule) in variants.items()]
    runs = training.fit_variants(arms, splits["train"], splits["val"], None, recipe,
                                 objective=training.Regression())
    naive_val_mse = float(np.mean((naive["val"] - splits["val"][1]) ** 2))
    rows, predictions = {}, {}
    for name, (hidden, rule) in variants.items():
        history, net = runs.histories[name], runs.trained[name]
        predictions[name] = forecast(net, splits["test"][0])
        train_mse, val_mse = runs.results.loc[name, ["train_loss", "val_loss"]]
        rows[name] = {"hidden": hidden, "optimizer": rule, "train_mse": train_mse,
                      "val_mse": val_mse,
                      **forecast_errors(predictions[name], splits["test"][1], scaler),
                      "s_per_epoch": float(np.mean(history.epoch_time_s)),
                      "parameters": runs.results.loc[name, "num_parameters"]}
    rows["naive"] = {"hidden": 0, "optimizer": "none", "val_mse": naive_val_mse,
                     **forecast_errors(naive["test"], splits["test"][1], scaler)}
    results = forecast_ratios(pd.DataFrame.from_dict(rows, orient="index"))
    return results, runs.histories, predictions


RATIOS = ("val_train_ratio", "val_mse_vs_naive", "s_per_epoch_vs_sgd")


def forecast_ratios(results: "pd.DataFrame") -> "pd.DataFrame":
    """``results`` of forecasters beside a ``naive`` row, with the ratios (``RATIOS``)
    that report B's claims are checked on, from the columns they divide: the same
    whether the columns are one run's or means over seeds.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"train_mse": [0.002, 0.004, None], "val_mse": [0.003, 0.004, 0.006],
    ...                      "s_per_epoch": [2.0, 2.2, None]}, index=["sgd", "rmsprop", "naive"])
    >>> forecast_ratios(runs)[list(RATIOS)].round(2)  # doctest: +NORMALIZE_WHITESPACE
             val_train_ratio  val_mse_vs_naive  s_per_epoch_vs_sgd
    sgd                  1.5              0.50                 NaN
    rmsprop              1.0              0.67                 1.1
    naive                NaN               NaN                 NaN
    """
    out = results.copy()
    nets = out.index != "naive"
    out.loc[nets, "val_train_ratio"] = out.loc[nets, "val_mse"] / out.loc[nets, "train_mse"]
    out.loc[nets, "val_mse_vs_naive"] = out.loc[nets, "val_mse"] / out.loc["naive", "val_mse"]
    if {"sgd", "rmsprop"} <= set(out.index):
        out.loc["rmsprop", "s_per_epoch_vs_sgd"] = (out.loc["rmsprop", "s_per_epoch"]
                                                    / out.loc["sgd", "s_per_epoch"])
    return out


@dataclass
class Forecasts:
    """What :func:`forecasters_over_seeds` returns."""

    per_seed: "pd.DataFrame"   # every run's results, "<variant>, seed <s>" (findings.stack_seeds)
    results: "pd.DataFrame"    # the mean over seeds (and test_mse_std), by variant, naive too
    histories: dict            # the first seed's training histories, by variant
    predictions: dict          # the first seed's test forecasts, by variant


def forecasters_over_seeds(variants: dict[str, tuple[int, str]],
                           splits: dict[str, tuple[np.ndarray, np.ndarray]],
                           naive: dict[str, np.ndarray], scaler, *, seeds: list[int],
                           **kwargs) -> Forecasts:
    """:func:`compare_forecasters` once per seed (each seed starts every network from new
    weights and shuffles its batches anew; the series and its splits stay), so claims
    about differences smaller than one seed's spread read the mean over seeds
    (``findings.seed_means``; the ratios are taken of the means, as of one run's
    columns). ``kwargs`` go to ``compare_forecasters``.

    Raises:
        ValueError: for no seeds or a seed listed twice, before anything trains.
    """
    from coursekit.tasks import findings
    from coursekit.training import check_seeds
    seeds = check_seeds(seeds)
    runs = {seed: compare_forecasters(variants, splits, naive, scaler, seed=seed, **kwargs)
            for seed in seeds}
    per_seed = findings.stack_seeds({seed: results for seed, (results, _, _) in runs.items()})
    means = findings.seed_means(per_seed, spread=["test_mse"]).drop(columns=list(RATIOS),
                                                                  errors="ignore")
    _, histories, predictions = runs[seeds[0]]
    return Forecasts(per_seed, forecast_ratios(means), histories, predictions)
