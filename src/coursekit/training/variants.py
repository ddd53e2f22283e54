"""Several arms of one experiment, trained alike: ``fit_variants`` builds, seeds, trains
and scores each ``Variant`` under one shared recipe and returns ``VariantRuns``;
``fit_over_seeds`` does it once per seed, for comparisons one seed cannot settle."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor, nn

from coursekit import models
from coursekit.training import metrics
from coursekit.training.callbacks import run_name
from coursekit.training.config import FitConfig, History
from coursekit.training.devices import check_seeds, seed_everything
from coursekit.training.evaluation import predict, predict_flip_averaged
from coursekit.training.loader import LabelledImages
from coursekit.training.loop import fit
from coursekit.training.objectives import Classification, Objective
from coursekit.training.timing import step_times

__all__ = ["Variant", "VariantRuns", "fit_over_seeds", "fit_variants"]


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: a model, changes to the recipe, and what it trains toward.

    Attributes:
        name: the row name in results and reported.yaml, e.g. "early_stopping".
        model: a ``coursekit.models`` name, e.g. "vgg13"; or a function that builds
            the model from the keywords (e.g. a classifier on a trained encoder).
        overrides: ``FitConfig`` fields that differ from the shared recipe, e.g.
            ``{"early_stopping_patience": 3}``.
        model_kwargs: keywords for ``build_model`` on top of the shared ones, e.g.
            ``{"dropout": 0.2}`` or ``{"init": "xavier"}``.
        objective: what it trains toward (``training.objectives``); None is the
            shared one of ``fit_variants``.
    """

    name: str
    model: str | Callable[..., nn.Module]
    overrides: dict = field(default_factory=dict)
    model_kwargs: dict = field(default_factory=dict)
    objective: Objective | None = None

    @property
    def spec(self) -> models.ModelSpec | None:
        """The registry entry of a model given by name; None for a building function."""
        return None if callable(self.model) else models.get_spec(self.model)

    def build(self, **model_kwargs) -> nn.Module:
        """A fresh model (seed first: the seed sets its initial weights)."""
        kwargs = {**model_kwargs, **self.model_kwargs}
        return self.model(**kwargs) if self.spec is None \
            else models.build_model(self.model, **kwargs)

    def fresh(self, config: FitConfig, **model_kwargs) -> nn.Module:
        """The model ``fit_variants`` trains, before training: seeded with the recipe's
        seed, then built (e.g. to score it untrained)."""
        seed_everything(self.recipe(config).seed)
        return self.build(**model_kwargs)

    def recipe(self, config: FitConfig) -> FitConfig:
        """``config`` with the weight decay and augmentation that a registry model's
        ``ModelSpec`` brings (e.g. "lenet_l2", "super_resnet34"), then ``overrides``."""
        spec = self.spec
        brought = {} if spec is None else {
            "weight_decay": spec.weight_decay or config.weight_decay,
            "augment": spec.augment or config.augment}
        return dataclasses.replace(config, **{**brought, **self.overrides})

    @property
    def title(self) -> str:
        """The name, and the report's name of a registry model."""
        return self.name if self.spec is None else f"{self.name} ({self.spec.report_name})"


@dataclass
class VariantRuns:
    """What ``fit_variants`` returns: a results table, and each variant's history and model."""

    results: "pd.DataFrame"             # one row per variant (see fit_variants)
    histories: dict[str, History]
    trained: dict[str, nn.Module]
    watchers: dict[str, object] = field(default_factory=dict)  # see fit_variants(watch=)
    _predicted: dict = field(default_factory=dict, repr=False)  # id(data) -> (data, preds)

    def predictions(self, data: LabelledImages) -> dict[str, Tensor]:
        """Each trained variant's predicted class (N,) for every image of ``data``.

        Computed once per split: ``scored`` and ``confusion_matrices`` share them.
        """
        data_seen, predicted = self._predicted.get(id(data), (None, None))
        if data_seen is not data:
            predicted = {name: predict(model, data).argmax(1)
                         for name, model in self.trained.items()}
            self._predicted[id(data)] = (data, predicted)
        return predicted

    def scored(self, test_data: LabelledImages) -> "pd.DataFrame":
        """``results`` plus macro precision, recall and F1 (%) on ``test_data``."""
        import pandas as pd
        summary = {name: metrics.classification_summary(test_data.labels, predicted)
                   for name, predicted in self.predictions(test_data).items()}
        return self.results.join(pd.DataFrame(summary).T.drop(columns="accuracy"))

    def flip_averaged(self, test_data: LabelledImages) -> "pd.DataFrame":
        """``results`` with ``test_acc`` scored by test-time flip averaging (see
        :func:`predict_flip_averaged`) and the single-view figure kept as
        ``test_acc_single``."""
        out = self.results.copy()
        out["test_acc_single"] = out["test_acc"]
        out["test_acc"] = [metrics.topk_accuracy(
            predict_flip_averaged(self.trained[name], test_data), test_data.labels)
            for name in out.index]
        return out

    def step_ms(self, data, config: FitConfig,
                objective: Objective | None = None) -> "pd.Series":
        """Each trained variant's median milliseconds per training step, all timed in
        turns on one batch of ``data`` under ``config`` (:func:`.timing.step_times`):
        a column for ``results``, read by the reports' speed claims."""
        import pandas as pd
        return pd.Series(step_times(self.trained, data, config, objective=objective),
                         name="step_ms")

    def confusion_matrices(self, data: LabelledImages) -> dict[str, "np.ndarray"]:
        """Each variant's confusion matrix on ``data`` (rows true, columns predicted)."""
        num_classes = int(data.labels.max()) + 1
        return {name: metrics.confusion_matrix(data.labels, predicted, num_classes)
                for name, predicted in self.predictions(data).items()}


def fit_variants(variants: list[str | Variant], train_data, val_data, test_data,
                 config: FitConfig, *, objective: Objective | None = None,
                 watch: Callable[[nn.Module], Callable] | None = None,
                 **model_kwargs) -> VariantRuns:
    """Build, train and score each variant under the shared recipe ``config``.

    A plain string is a model name trained with ``config`` as it is; a ``Variant``
    also changes some fields of it (see ``Variant.recipe``) and may train toward its
    own objective. Every variant is seeded with its recipe's seed just before its model
    is built, so each starts from the same initial weights at every run, whichever
    variants run before it. ``objective`` (default: classification with the recipe's
    label smoothing) trains and scores every variant without one of its own.

    The results table, indexed by variant name, holds the objective's scores
    (``Objective.summary``: for classifiers train_acc, val_acc, test_acc (%) and
    test_loss, scored afresh in eval mode; for the others the training and validation
    losses of the kept epoch and the test loss), then initial_loss (first step's, before any
    update), epochs, best_epoch, time_s (training only), throughput (items/s),
    peak_memory_mb and num_parameters. ``test_data`` None leaves the test scores NaN.
    ``watch``, e.g. ``diagnostics.GradientRecorder``, is called on each new model and
    the object it returns is passed to ``fit`` as ``on_epoch_end`` and kept in
    ``watchers``.
    """
    import pandas as pd
    rows, histories, trained, watchers = {}, {}, {}, {}
    for variant in variants:
        if isinstance(variant, str):
            variant = Variant(variant, variant)
        recipe = variant.recipe(config)
        goal = variant.objective or objective or Classification(recipe.label_smoothing)
        model = variant.fresh(config, **model_kwargs)
        if recipe.verbose:  # a quiet recipe prints nothing, not even the heading
            print(f"--- {variant.title}")
        watcher = watch(model) if watch is not None else None
        with run_name(variant.name):
            history = fit(model, train_data, val_data, recipe, objective=goal,
                          on_epoch_end=watcher)
        if watcher is not None:
            watchers[variant.name] = watcher
        splits = {"train": train_data, "val": val_data, "test": test_data}
        rows[variant.name] = {
            **goal.summary(model, history, splits, recipe),
            "initial_loss": history.step_loss[0] if history.step_loss else math.nan,
            "epochs": len(history.epoch), "best_epoch": history.best_epoch,
            "time_s": history.train_time_s, "throughput": history.throughput,
            "peak_memory_mb": history.peak_memory_mb,
            "num_parameters": models.count_parameters(model)}
        histories[variant.name], trained[variant.name] = history, model
    results = pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant")
    return VariantRuns(results, histories, trained, watchers)


def fit_over_seeds(variants: list[str | Variant], train_data, val_data, test_data,
                   config: FitConfig, seeds: list[int], **kwargs) -> dict[int, VariantRuns]:
    """``fit_variants`` once per seed, the recipe's ``seed`` replaced by each in turn
    (a variant's own ``seed`` override still wins): every variant starts from new
    weights and sees its batches in a new order, on the same data. For claims about
    differences smaller than one seed's spread, such as report B's tweet models 0.2 to
    2.7 points apart, checked on the mean over seeds. A verbose recipe heads each
    seed's training log with ``=== seed N``.

    Returns:
        seed -> that seed's ``VariantRuns``, in the order of ``seeds``.

    Raises:
        ValueError: for no seeds or a seed listed twice, before anything trains.
    """
    runs = {}
    for seed in check_seeds(seeds):
        if config.verbose:  # the variants' headings repeat from seed to seed
            print(f"=== seed {seed}")
        runs[seed] = fit_variants(variants, train_data, val_data, test_data,
                                  dataclasses.replace(config, seed=seed), **kwargs)
    return runs
