"""Quantities the reports' claims are checked on, derived from a run.

A claim such as "LeNet over-fits" or "the loss is very volatile" is checked on a
number (``coursekit.book.claims``); the functions here compute the ones several chapters
share, from a results table or a training ``History``. Chapter-specific quantities
live beside the code that trains the chapter's models (``lm``, ``translate``, ...).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import pandas as pd

__all__ = ["add_chance_ratios", "add_gaps", "class_recalls", "history_measures",
           "hockey_steps", "loss_volatility", "measures", "min_recall_gain",
           "regularisation_measures", "seed_means", "smoothed_target_entropy",
           "stack_seeds", "start_measures", "start_table"]


def add_gaps(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with ``train_val_gap`` (train_acc - val_acc) and ``train_test_gap``
    (train_acc - test_acc) in points, where those columns exist.

    Example:
        >>> add_gaps(pd.DataFrame({"train_acc": [70.0], "val_acc": [59.0]}))
        ...     # doctest: +NORMALIZE_WHITESPACE
           train_acc  val_acc  train_val_gap
        0       70.0     59.0           11.0
    """
    out = results.copy()
    if {"train_acc", "val_acc"} <= set(out):
        out["train_val_gap"] = out["train_acc"] - out["val_acc"]
    if {"train_acc", "test_acc"} <= set(out):
        out["train_test_gap"] = out["train_acc"] - out["test_acc"]
    return out


def add_chance_ratios(results: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    """``results`` with ``train_acc_over_chance``, ``val_acc_over_chance`` and
    ``test_acc_over_chance`` where the accuracy columns (%) exist: each accuracy as
    a multiple of chance, 100 / ``num_classes``. "Stays at chance" reads the same on
    10 classes (15 % is 1.5 x chance) and on 200 (0.75 %).

    Example:
        >>> import pandas as pd
        >>> add_chance_ratios(pd.DataFrame({"val_acc": [0.5, 15.0]}), 200)[
        ...     "val_acc_over_chance"].tolist()
        [1.0, 30.0]
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    out = results.copy()
    for metric in ("train_acc", "val_acc", "test_acc"):
        if metric in out:
            out[f"{metric}_over_chance"] = out[metric] / (100 / num_classes)
    return out


def loss_volatility(step_losses: list[float], floor: float = 0.0) -> float:
    """How much the training loss jumps from step to step: the standard deviation of
    ``step_losses`` over their mean height above ``floor`` (the lowest loss possible,
    e.g. the entropy of smoothed targets). NaN for fewer than two steps.

    Example:
        >>> round(loss_volatility([0.4030, 0.5666, 0.4082]), 2)  # report D's log
        0.2
    """
    if len(step_losses) < 2:
        return math.nan
    height = statistics.fmean(step_losses) - floor
    return statistics.stdev(step_losses) / height if height > 0 else math.nan


def smoothed_target_entropy(label_smoothing: float, num_classes: int) -> float:
    """The lowest cross-entropy reachable with smoothed targets (0 without smoothing).

    Example:
        >>> round(smoothed_target_entropy(0.1, 10), 3)
        0.5
    """
    if label_smoothing <= 0:
        return 0.0
    other = label_smoothing / num_classes
    top = 1 - label_smoothing + other
    return -(top * math.log(top) + (num_classes - 1) * other * math.log(other))


def history_measures(history, *, label_smoothing: float = 0.0,
                     num_classes: int = 10) -> dict[str, float]:
    """Per-run quantities of a ``training.History``: ``final_train_loss`` (mean training
    loss of the last epoch), ``first_train_loss``, ``best_epoch`` (lowest validation
    loss, 1-based), ``epochs_after_best`` and ``loss_volatility`` of the last epoch's
    steps (see :func:`loss_volatility`; its floor accounts for label smoothing)."""
    epochs = len(history.epoch)
    per_epoch = len(history.step_loss) // epochs if epochs else 0
    last = history.step_loss[-per_epoch:] if per_epoch else []
    floor = smoothed_target_entropy(label_smoothing, num_classes)
    best = history.best_epoch if history.best_epoch is not None else math.nan
    return {"final_train_loss": history.train_loss[-1] if history.train_loss else math.nan,
            "first_train_loss": history.train_loss[0] if history.train_loss else math.nan,
            "best_epoch": best, "epochs_after_best": epochs - best,
            "loss_volatility": loss_volatility(last, floor)}


def measures(results: pd.DataFrame, histories: dict, **kwargs) -> pd.DataFrame:
    """``results`` (indexed by variant) with its gaps (:func:`add_gaps`) and each
    variant's :func:`history_measures` (``kwargs`` go there): what the claims about
    over-fitting and convergence read."""
    per_run = pd.DataFrame({name: history_measures(h, **kwargs)
                            for name, h in histories.items()}).T
    out = add_gaps(results)
    return out.join(per_run.drop(columns=[c for c in per_run if c in out]))


def class_recalls(predictions: dict, labels, classes: list[str]):
    """Per-class recall (%) of each variant: a DataFrame variant x class, from
    ``predictions`` (variant -> predicted labels) against the true ``labels``.

    >>> class_recalls({"a": [0, 1, 1]}, [0, 1, 0], ["x", "y"]).loc["a"].tolist()
    [50.0, 100.0]
    """
    from coursekit.training import metrics
    return pd.DataFrame({name: metrics.classwise_accuracy(labels, predicted, classes)
                         for name, predicted in predictions.items()}).T


def min_recall_gain(recalls, variant: str, others: list[str]) -> float:
    """The smallest (variant's recall - another's) over every class and every variant of
    ``others`` (in points; NaN when a variant is missing): at least 0 means ``variant``
    is as good or better on every class.

    >>> import pandas as pd
    >>> r = pd.DataFrame({"x": [80.0, 70.0], "y": [60.0, 65.0]}, index=["a", "b"])
    >>> min_recall_gain(r, "a", ["b"])
    -5.0
    """
    if variant not in recalls.index or any(o not in recalls.index for o in others):
        return math.nan
    return float((recalls.loc[variant] - recalls.loc[others]).min().min())


def regularisation_measures(results, runs, val_data) -> "pd.DataFrame":
    """What report B's regularisation claims (chapters B1 and B2) are checked on:
    ``results`` (indexed by variant, e.g. ``runs.scored(test_set)``) with
    ``train_val_gap`` and ``train_test_gap`` (``findings.add_gaps``), ``val_loss`` (mean
    cross-entropy of the final weights on ``val_data``, eval mode), ``val_loss_drop``
    (first epoch's validation loss minus the last recorded epoch's) and
    ``stopped_early`` (1 if the run's early stopping ended it, else 0).

    Args:
        results: the runs' results table, train_acc, val_acc and test_acc in %.
        runs: the ``training.VariantRuns`` that produced it (models and histories).
        val_data: the validation split the runs watched.
    """
    from coursekit import training
    out = add_gaps(results)
    out["val_loss"] = pd.Series({n: training.evaluate(m, val_data)["loss"]
                                 for n, m in runs.trained.items()})
    out["val_loss_drop"] = pd.Series({n: h.val_loss[0] - h.val_loss[-1]
                                      for n, h in runs.histories.items()})
    out["stopped_early"] = pd.Series({n: int(h.stopped_early)
                                      for n, h in runs.histories.items()})
    return out


# ---------------------------------------------------------------- over seeds


def stack_seeds(per_seed: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """One table of every run from per-seed results tables (seed -> results indexed
    by variant, e.g. of :func:`coursekit.training.fit_over_seeds`): rows named
    ``"<variant>, seed <s>"`` (as E3's, so the scoreboard pools a headline's seeds
    with ``"<variant>, seed *"``), with ``variant`` and ``seed`` columns.

    Example:
        >>> runs = {0: pd.DataFrame({"test_acc": [80.0]}, index=["lstm"]),
        ...         1: pd.DataFrame({"test_acc": [84.0]}, index=["lstm"])}
        >>> stack_seeds(runs).index.tolist()
        ['lstm, seed 0', 'lstm, seed 1']
    """
    from coursekit.tasks.mlp_study import seed_variant  # it imports this module
    return pd.concat([results.assign(variant=results.index, seed=seed).set_axis(
        [seed_variant(v, seed) for v in results.index]) for seed, results in per_seed.items()])


def seed_means(stacked: pd.DataFrame, spread: Sequence[str] = ()) -> pd.DataFrame:
    """One row per variant of :func:`stack_seeds`' table, in first-seen order (the
    ``seed`` column left out): what a chapter's claims are checked on when it trains
    several seeds. A number column holds the mean over the variant's seeds, NaN when
    any seed measured NaN (a run that diverged is not quietly left out); any other
    column (an optimizer's name, a flag) the variant's value where all its seeds agree,
    else NaN. A variant trained on fewer seeds is averaged over those it has. Each
    column named in ``spread`` gets a ``<column>_std`` beside it: its standard deviation
    over the seeds (NaN with one seed), how far one seed's run lands from the next.

    Example:
        >>> runs = {s: pd.DataFrame({"test_acc": [80.0 + 4 * s, 60.0, 50.0],
        ...                          "optimizer": ["adam", "sgd", "sgd"],
        ...                          "best_class": ["x", "y", "xy"[s]]},
        ...                         index=["a", "b", "c"]) for s in (0, 1)}
        >>> runs[1].loc["b", "test_acc"] = float("nan")
        >>> seed_means(stack_seeds(runs)).to_dict("index")  # doctest: +NORMALIZE_WHITESPACE
        {'a': {'test_acc': 82.0, 'optimizer': 'adam', 'best_class': 'x'},
         'b': {'test_acc': nan, 'optimizer': 'sgd', 'best_class': 'y'},
         'c': {'test_acc': 50.0, 'optimizer': 'sgd', 'best_class': nan}}
        >>> seed_means(stack_seeds(runs), spread=["test_acc"])["test_acc_std"].round(2).tolist()
        [2.83, nan, 0.0]
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    columns = [c for c in stacked.columns if c not in ("variant", "seed")]
    groups = stacked.groupby("variant", sort=False)

    def mean(values: pd.Series) -> float:
        return values.mean(skipna=False)

    def agreed(values: pd.Series):
        return values.iloc[0] if values.nunique(dropna=False) == 1 else math.nan

    means = groups[columns].agg({
        c: mean if is_numeric_dtype(stacked[c]) and not is_bool_dtype(stacked[c]) else agreed
        for c in columns})
    for column in spread:
        means.insert(means.columns.get_loc(column) + 1, f"{column}_std",
                     groups[column].std())
    return means.rename_axis(None)


# ---------------------------------------------------------------- how runs start (A5)


def hockey_steps(step_losses: list[float], num_classes: int) -> int:
    """Steps before the per-step training loss first falls below ln C.

    ``step_losses`` is ``History.step_loss`` (each batch's loss before its update);
    ln C is the cross-entropy of a uniform guess over ``num_classes`` classes. A run
    that starts below ln C scores 0; one that never gets there scores its number of
    steps. This is the length of the "hockey stick" of report A, section 4.5.

    Example:
        >>> hockey_steps([40.1, 12.0, 3.1, 2.2, 2.1], 10)  # ln 10 = 2.303
        3
    """
    limit = math.log(num_classes)
    return next((i for i, loss in enumerate(step_losses) if loss < limit),
                len(step_losses))


def start_measures(history, num_classes: int) -> dict[str, float]:
    """How a run started, from its ``training.History``.

    - ``excess_initial_loss``: the first step's loss minus ln C (0 for a uniform
      guess; report A's Kaiming runs start about 0.02 above, its N(0, 1) runs 16-51);
    - ``hockey_steps``: see :func:`hockey_steps`;
    - ``time_to_chance_loss_s``: ``hockey_steps`` x the run's training seconds per
      step, the training time spent before the loss reaches ln C (all of it if it
      never does).

    NaN throughout for a history without steps.
    """
    losses = list(history.step_loss)
    if not losses:
        return {"excess_initial_loss": math.nan, "hockey_steps": math.nan,
                "time_to_chance_loss_s": math.nan}
    steps = hockey_steps(losses, num_classes)
    return {"excess_initial_loss": losses[0] - math.log(num_classes),
            "hockey_steps": steps,
            "time_to_chance_loss_s": steps * history.train_time_s / len(losses)}


def start_table(runs, num_classes: int) -> "pd.DataFrame":
    """A ``training.VariantRuns``'s results with :func:`start_measures` of every
    variant and its accuracies as multiples of chance
    (:func:`add_chance_ratios`): one row per variant, for chapter A5's
    claims on initial losses and hockey sticks."""
    import pandas as pd

    starts = pd.DataFrame({name: start_measures(h, num_classes)
                           for name, h in runs.histories.items()}).T
    table = runs.results.join(starts.drop(columns=[c for c in starts
                                                   if c in runs.results]))
    return add_chance_ratios(table, num_classes)
