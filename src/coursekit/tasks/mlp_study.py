"""Quantities report E's claims about its MLPs are checked on (chapters E1 and E3).

Report E gives curves and conclusions, no numbers: "sigmoid learns slowest", "at depth
9 and 10 the loss is not even updating", "gradients are visible only in the last three
layers", "dropout > L2 > L1". The functions here turn a chapter's runs
(``training.VariantRuns``: results, histories and ``diagnostics.GradientRecorder``
watchers) into the numbers those claims are checked on by :mod:`coursekit.book.claims`,
and into the long tables the chapters plot. Variant names follow two patterns:
``"<activation>, depth <d>"`` (E2: ``d`` linear layers, ``d - 1`` hidden) and
``"<method>, seed <s>"`` (E3: one run per method and seed).

Thresholds the claims' words are read with:

- a network *learns* when its training loss falls by more than :data:`LEARNS` (0.05,
  about 2 % of ln 10) from the first epoch to the last;
- a layer's gradient is *visible* when its mean |gradient| is at least
  :data:`VISIBLE` (1 %) of the output layer's.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from coursekit.training.diagnostics import first_layer_grad_ratio, layer_gradients, recorder_frame
from coursekit.tasks import findings
from coursekit.tasks.findings import add_gaps

__all__ = ["LEARNS", "VISIBLE", "activation_measures", "best_strength", "by_seed",
           "by_strength", "depth_frames", "depth_measures", "depth_variant", "loss_drop",
           "method_means", "near_chance", "parse_depth_variant", "parse_seed_variant",
           "seed_spread", "seed_variant", "stalled_depths", "visible_layers"]

LEARNS = 0.05   # a training loss that falls by less than this "is not updating"
# (and a depth-2 reference less than this below chance gives no progress_ratio)
VISIBLE = 0.01  # a gradient below this share of the output layer's "is ~0"


# ---------------------------------------------------------------- variant names


def _variant(label: str, key: str, number: int) -> str:
    return f"{label}, {key} {number}"


def _parse_variant(name: str, key: str, label: str) -> tuple[str, int]:
    """``(label, number)`` of a ``"<label>, <key> <number>"`` name; ``label`` names the
    first part in the error message."""
    match = re.fullmatch(rf"(?P<label>.+), {key} (?P<number>-?\d+)", str(name))
    if match is None:
        raise ValueError(f"{name!r} is not a '<{label}>, {key} <n>' variant name")
    return match["label"], int(match["number"])


def depth_variant(activation: str, depth: int) -> str:
    """The name of E2's network with ``depth`` linear layers, e.g. ``"relu, depth 3"``."""
    return _variant(activation, "depth", depth)


def parse_depth_variant(name: str) -> tuple[str, int]:
    """``(activation, depth)`` of a :func:`depth_variant` name.

    Example:
        >>> parse_depth_variant("sigmoid, depth 10")
        ('sigmoid', 10)

    Raises:
        ValueError: for a name of another pattern.
    """
    return _parse_variant(name, "depth", "activation")


def seed_variant(method: str, seed: int) -> str:
    """The name of one run of a method, e.g. ``"dropout, seed 0"`` (E3)."""
    return _variant(method, "seed", seed)


def parse_seed_variant(name: str) -> tuple[str, int]:
    """``(method, seed)`` of a :func:`seed_variant` name.

    Example:
        >>> parse_seed_variant("L2 1e-05, seed 2")
        ('L2 1e-05', 2)

    Raises:
        ValueError: for a name of another pattern.
    """
    return _parse_variant(name, "seed", "method")


# ---------------------------------------------------------------- one run


def loss_drop(history) -> float:
    """How far the training loss fell: mean loss of the first epoch minus that of the
    last (``history.train_loss[0] - train_loss[-1]``); NaN with fewer than two epochs,
    where there is no fall to measure."""
    losses = history.train_loss
    return float(losses[0] - losses[-1]) if len(losses) >= 2 else math.nan


def visible_layers(recorder, epoch: int = 1, threshold: float = VISIBLE) -> int:
    """Layers whose mean |gradient| in ``epoch`` is at least ``threshold`` times the
    output layer's (the output layer counts itself).

    Example:
        >>> frame = pd.DataFrame({"epoch": 1, "layer": [1, 2, 3, 4],
        ...                       "mean_abs_grad": [1e-5, 1e-4, 0.02, 0.1]})
        >>> visible_layers(frame)
        2
    """
    grads = layer_gradients(recorder, epoch)
    return int((grads >= threshold * grads[-1]).sum())


# ---------------------------------------------------------------- E1: four activations


def activation_measures(runs, *, epoch: int = 1) -> pd.DataFrame:
    """E1's results with the quantities its claims read, one row per activation:

    - ``final_train_loss``: mean training loss of the last epoch (train mode);
    - ``epoch_time_s``: the *median* training time of one epoch (evaluation excluded),
      which keeps the first variant's one-off warm-up out of the comparison;
    - ``first_layer_grad_ratio``: see :func:`coursekit.training.diagnostics.first_layer_grad_ratio`
      (only for variants
      trained with a ``GradientRecorder`` watching).

    Args:
        runs: ``training.fit_variants``'s result.
        epoch: the epoch whose gradients are compared.
    """
    out = runs.results.copy()
    out["final_train_loss"] = [runs.histories[v].train_loss[-1] for v in out.index]
    out["epoch_time_s"] = [statistics.median(runs.histories[v].epoch_time_s)
                           for v in out.index]
    if runs.watchers:
        out["first_layer_grad_ratio"] = [
            first_layer_grad_ratio(runs.watchers[v], epoch) if v in runs.watchers
            else math.nan for v in out.index]
    return out


# ---------------------------------------------------------------- E2: depth


def depth_measures(runs, *, num_classes: int, epoch: int = 1, reference_depth: int = 2,
                   reference_activation: str = "relu") -> pd.DataFrame:
    """E2's results (variants named by :func:`depth_variant`) with the quantities its
    claims read:

    - ``final_train_loss`` and ``loss_drop`` (:func:`loss_drop`): whether the loss still
      moves after the first epoch, which a network stuck on a plateau does not;
    - ``mean_train_loss``: the mean of the epochs' training losses, the height of the
      plotted loss curve on average: a network whose loss falls later or more slowly has
      the larger one, progress within the first epoch included (which ``loss_drop``,
      starting from the first epoch's mean, leaves out);
    - ``visible_layers`` (:func:`visible_layers` in ``epoch``) and
      ``invisible_layers`` (the other layers), where a ``GradientRecorder`` watched;
    - ``progress_ratio``: how far the curve lies below chance, ln(``num_classes``) -
      ``mean_train_loss``, over the same for the same activation at ``reference_depth``
      (the shallowest network that uses the activation); NaN where the reference made
      less progress than :data:`LEARNS` or was not trained;
    - ``loss_gap_to_<reference_activation>``: |final training loss - that of
      ``reference_activation`` at the same depth|, for the other activations.
    """
    out = runs.results.copy()
    parsed = {v: parse_depth_variant(v) for v in out.index}
    out["activation"] = [parsed[v][0] for v in out.index]
    out["depth"] = [parsed[v][1] for v in out.index]
    out["final_train_loss"] = [runs.histories[v].train_loss[-1] for v in out.index]
    out["loss_drop"] = [loss_drop(runs.histories[v]) for v in out.index]
    out["mean_train_loss"] = [statistics.fmean(runs.histories[v].train_loss) for v in out.index]
    if runs.watchers:
        visible = [visible_layers(runs.watchers[v], epoch) if v in runs.watchers
                   else math.nan for v in out.index]
        out["visible_layers"] = visible
        out["invisible_layers"] = out["depth"] - out["visible_layers"]

    progress = math.log(num_classes) - out["mean_train_loss"]

    def reference_progress(activation: str) -> float:
        value = progress.get(depth_variant(activation, reference_depth), math.nan)
        return value if value > LEARNS else math.nan  # NaN compares False: no reference

    out["progress_ratio"] = [progress[v] / reference_progress(a) for v, (a, _) in parsed.items()]
    gap = f"loss_gap_to_{reference_activation}"
    out[gap] = math.nan
    for v, (activation, depth) in parsed.items():
        other = depth_variant(reference_activation, depth)
        if activation != reference_activation and other in out.index:
            out.loc[v, gap] = abs(out.loc[v, "final_train_loss"]
                                  - out.loc[other, "final_train_loss"])
    return out


def stalled_depths(measures: pd.DataFrame, activation: str) -> list[int]:
    """The depths at which ``activation``'s training loss fell by less than
    :data:`LEARNS` (from :func:`depth_measures`; untrained depths are left out)."""
    rows = measures[(measures["activation"] == activation)
                    & (measures["loss_drop"] < LEARNS)]
    return sorted(int(d) for d in rows["depth"])


def depth_frames(runs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long tables for E2's plots: ``(curves, layers)``.

    ``curves`` has one row per variant and epoch (the history's columns, ``epoch``,
    ``activation``, ``depth``); ``layers`` one per variant, epoch and layer (the
    ``GradientRecorder`` table with ``activation`` and ``depth``).
    """
    def labels(name: str) -> dict[str, Any]:
        activation, depth = parse_depth_variant(name)
        return {"activation": activation, "depth": depth}

    curves = pd.concat([h.to_frame().reset_index().assign(**labels(n))
                        for n, h in runs.histories.items()], ignore_index=True)
    layers = pd.concat([recorder_frame(w).assign(**labels(n))
                        for n, w in runs.watchers.items()], ignore_index=True) \
        if runs.watchers else pd.DataFrame(columns=["epoch", "layer", "mean_abs_grad",
                                                    "mean_abs_weight", "activation",
                                                    "depth"])
    return curves, layers


# ---------------------------------------------------------------- E3: methods over seeds


def by_seed(results: pd.DataFrame) -> pd.DataFrame:
    """Results indexed by :func:`seed_variant` names with ``method`` and ``seed``
    columns, and the gaps of :func:`coursekit.tasks.findings.add_gaps`."""
    parsed = [parse_seed_variant(v) for v in results.index]
    return add_gaps(results).assign(method=[m for m, _ in parsed],
                                    seed=[s for _, s in parsed])


def method_means(per_seed: pd.DataFrame,
                 metrics: Sequence[str] = ("train_acc", "val_acc", "test_acc",
                                           "train_val_gap", "train_test_gap")
                 ) -> pd.DataFrame:
    """The mean over seeds of each method (rows in first-seen order) for ``metrics``
    that ``per_seed`` (from :func:`by_seed`) has: the variants E3's claims compare.

    Example:
        >>> runs = pd.DataFrame({"test_acc": [80.0, 84.0, 60.0]}, index=pd.Index(
        ...     ["a, seed 0", "a, seed 1", "b, seed 0"], name="variant"))  # as fit_variants
        >>> method_means(by_seed(runs))["test_acc"].to_dict()
        {'a': 82.0, 'b': 60.0}
    """
    shown = [m for m in metrics if m in per_seed]
    # seed_means groups on a "variant" column, and by_seed calls it "method"; the index
    # keeps fit_variants' name "variant", which pandas would not tell apart from that
    # column (groupby raises on an ambiguous key), so the index loses its name.
    per_variant = per_seed.rename_axis(None).rename(columns={"method": "variant"})
    return findings.seed_means(per_variant)[shown]


def seed_spread(per_seed: pd.DataFrame, metric: str = "test_acc") -> float:
    """The largest standard deviation over seeds of ``metric`` among the methods: how
    far apart two runs of the same method can land (NaN with one seed)."""
    return float(per_seed.groupby("method")[metric].std().max())


def near_chance(means: pd.DataFrame | Mapping[str, Mapping[str, float]], *,
                metric: str = "test_acc", num_classes: int = 10,
                tol: float = 5.0) -> list[str]:
    """The methods whose ``metric`` (%) is within ``tol`` points of chance
    (100 / ``num_classes``): networks that collapsed to a constant guess.

    Example:
        >>> near_chance({"L2": {"test_acc": 10.1}, "dropout": {"test_acc": 88.0}})
        ['L2']
    """
    frame = means if isinstance(means, pd.DataFrame) else \
        pd.DataFrame.from_dict(dict(means), orient="index")
    chance = 100.0 / num_classes
    return [str(m) for m, v in frame[metric].items() if abs(v - chance) <= tol]


def by_strength(results: pd.DataFrame) -> pd.DataFrame:
    """Results of a penalty sweep, indexed ``"<penalty> <coefficient>"`` (e.g.
    ``"L1 1e-05"``), with ``penalty`` and ``coefficient`` columns."""
    parts = [str(v).rsplit(" ", 1) for v in results.index]
    return results.assign(penalty=[p for p, _ in parts],
                          coefficient=[float(c) for _, c in parts])


def best_strength(swept: pd.DataFrame, metric: str = "val_acc") -> dict[str, float]:
    """Each penalty's coefficient with the highest ``metric`` in a sweep (from
    :func:`by_strength`); the first of equals, so the weakest on a tie when the sweep
    lists coefficients from weak to strong.

    Example:
        >>> swept = by_strength(pd.DataFrame({"val_acc": [80.0, 85.0, 10.0]},
        ...                                  index=["L2 1e-06", "L2 0.001", "L2 1"]))
        >>> best_strength(swept)
        {'L2': 0.001}
    """
    best = swept.groupby("penalty", sort=False)[metric].idxmax()
    return {str(p): float(swept.loc[v, "coefficient"]) for p, v in best.items()}
