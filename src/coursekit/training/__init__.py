"""Training: one loop for every network of the book, and the pieces it is made of.

``fit`` (``loop``) trains a model toward an objective (``objectives``:
``Classification``, ``NextToken``, ``Regression``) under a ``FitConfig`` and returns a
``History`` (``config``); ``fit_variants`` (``variants``) trains the arms of an
experiment alike (``fit_over_seeds``: once per seed); ``predict`` and ``evaluate``
(``evaluation``) score a classifier.
Around the loop: ``callbacks`` (epoch log, progress, best weights, checkpoint),
``distributed`` (the process group and the strategy ``fit`` runs under), ``devices``
(device, seeds, autocast), ``loader`` and ``augment`` (batches on the device),
``optim``, ``losses``, ``memory``, ``metrics``, ``diagnostics`` and ``timing``
(``step_times``: which network's training step is cheaper, timed in turns).
"""

from coursekit.training.callbacks import epoch_log, log_epoch, run_name, show_progress, time_left
from coursekit.training.config import FitConfig, History, lr_factor, optimizer_for
from coursekit.training.devices import check_seeds, resolve_device, seed_everything
from coursekit.training.evaluation import evaluate, predict, predict_flip_averaged
from coursekit.training.loop import fit
from coursekit.training.objectives import (Classification, NextToken, Objective, Regression,
                                           Step)
from coursekit.training.timing import step_times
from coursekit.training.variants import Variant, VariantRuns, fit_over_seeds, fit_variants

__all__ = ["Classification", "FitConfig", "History", "NextToken", "Objective",
           "Regression", "Step", "Variant", "VariantRuns", "check_seeds", "epoch_log",
           "evaluate", "fit", "fit_over_seeds", "fit_variants", "log_epoch",
           "lr_factor", "optimizer_for", "predict", "predict_flip_averaged",
           "resolve_device", "run_name", "seed_everything", "show_progress", "step_times",
           "time_left"]
