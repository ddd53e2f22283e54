"""Reported vs reproduced: the reports' numbers, comparison tables and run records.

The reports' figures and claims live in one machine-readable file, ``reported.yaml``
beside this module, keyed by experiment id (A1, D1, ...). ``comparison_table`` puts a
chapter's results beside the numbers, one row per number the report gives (the claims
are checked by :mod:`coursekit.book.claims`); ``write_run_record`` saves what a chapter run
measured (parameters, results, comparison and claim rows, environment, timings) as JSON
so the book-wide scoreboard can be built from records, never typed by hand. Chapters
reach all of this through :class:`coursekit.chapter.Chapter`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
from functools import cache
from pathlib import Path

import pandas as pd
import yaml

import coursekit
from coursekit._atomic import write_text_atomic
from coursekit.book import number_format

__all__ = ["SHORTFALL_POINTS", "above_below", "comparison_table", "environment", "experiment",
           "fact", "reported", "seed_spread_sentence", "select_variants",
           "style_comparison", "style_results", "write_run_record"]

REPORTED_FILE = Path(__file__).with_name("reported.yaml")
SHORTFALL_POINTS = 1.5  # a reproduced accuracy further below the report than this is marked


@cache
def _load() -> dict:
    return yaml.safe_load(REPORTED_FILE.read_text())


def experiment(experiment_id: str) -> dict:
    """The raw entry of one experiment (title, source, setup, metrics, variants).

    Raises:
        KeyError: if the id is not in ``reported.yaml``; the message lists known ids.
    """
    entries = _load()
    if experiment_id not in entries:
        raise KeyError(f"no reported numbers for experiment {experiment_id!r} in "
                       f"{REPORTED_FILE.name}; known: {', '.join(entries)}")
    return entries[experiment_id]


def reported(experiment_id: str) -> pd.DataFrame:
    """The report's table for one experiment: one row per variant, one column per metric.

    Example:
        >>> reported("A1").loc["lenet", "test_acc"]
        np.float64(58.98)
    """
    entry = experiment(experiment_id)
    if "variants" not in entry:
        raise KeyError(f"{experiment_id} reports no numbers, only claims: "
                       "see coursekit.book.claims")
    frame = pd.DataFrame.from_dict(entry["variants"], orient="index")
    frame.index.name = "variant"
    return frame


def select_variants(experiment_id: str, variants: str,
                    extra: list[str] | None = None) -> list[str]:
    """Variant names from a chapter parameter: "all" (the report's, in its order, then
    ``extra``: variants the chapter adds to test a claim) or comma-separated names such
    as "lenet,super_lenet".

    Raises:
        ValueError: for a name neither the report's experiment nor ``extra`` has.
    """
    known = list(experiment(experiment_id)["variants"]) + list(extra or [])
    if variants.strip() == "all":
        return known
    names = [v.strip() for v in variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"variants={variants!r}: {experiment_id} has no variant "
                         f"{', '.join(map(repr, unknown))}; choose 'all' or "
                         f"comma-separated names from: {', '.join(known)}")
    return names


def comparison_table(experiment_id: str, reproduced: pd.DataFrame, *, profile: str,
                     metrics: list[str] | None = None) -> pd.DataFrame:
    """One row per reported number: experiment, variant, metric, reported, reproduced.

    Args:
        experiment_id: key in ``reported.yaml``, e.g. "A1".
        reproduced: our results, indexed by variant with the report's metric keys as
            columns (e.g. ``test_acc``); variants or metrics we lack show as NaN.
        profile: the profile that produced ``reproduced`` (smoke, cpu or gpu).
        metrics: which metric keys to compare; defaults to every one both sides have.
    Returns:
        One row per number the report gives (none where it gives none), columns
        experiment, variant, metric, reported, reproduced, difference
        (reproduced - reported), profile; and ``short`` (True where an accuracy falls
        more than ``SHORTFALL_POINTS`` below the report).
    """
    entry = experiment(experiment_id)
    theirs = reported(experiment_id)
    keys = metrics or [m for m in entry["metrics"]
                       if m in reproduced.columns and m not in entry.get("shown", ())]
    rows = []
    for variant in theirs.index:
        for key in keys:
            if pd.isna(theirs.loc[variant, key]):
                continue  # the report gives no such number for this variant
            ours = reproduced[key].get(variant, math.nan) if key in reproduced else math.nan
            rows.append({"experiment": experiment_id,
                         "variant": theirs.loc[variant, "name"],
                         "metric": entry["metrics"][key],
                         "reported": float(theirs.loc[variant, key]),
                         "reproduced": float(ours)})
    table = pd.DataFrame(rows)
    table["difference"] = table["reproduced"] - table["reported"]
    table["profile"] = profile
    table["short"] = table["metric"].str.contains("accuracy") & (
        table["difference"] < -SHORTFALL_POINTS)
    return table


def shown_table(experiment_id: str) -> pd.DataFrame | None:
    """The numbers a report gives that are shown beside the comparison but never
    compared (``shown:`` in ``reported.yaml``: report A's GPU time, utilisation and
    memory, measured on its RTX A6000; report B's test losses): one row per variant
    that has any, columns labelled as in ``metrics``; None when the experiment has none.
    """
    entry = experiment(experiment_id)
    keys = [k for k in entry.get("shown", ()) if k in reported(experiment_id).columns]
    if not keys:
        return None
    theirs = reported(experiment_id).set_index("name")[keys].dropna(how="all")
    return theirs.rename(columns=entry["metrics"]).rename_axis(None)


def style_shown(table: pd.DataFrame, source: str):
    """A pandas Styler of ``shown_table`` with a caption saying why it is not compared."""
    return (table.style.format(number_format.cell, na_rep="-")
            .set_caption(f"Also reported by {source}, shown and not compared (another "
                         "machine, or a number this run does not measure):"))


def style_comparison(table: pd.DataFrame):
    """A pandas Styler of ``comparison_table`` for the page: tidy numbers (counts
    without decimals), shortfalls red.

    >>> table = pd.DataFrame({"variant": ["filter", "gru", "lenet"],
    ...                       "metric": ["pairs", "acc", "parameters"],
    ...                       "reported": [10599.0, 81.5, 62006.0],
    ...                       "reproduced": [10923.0, 80.0, 62006.0],
    ...                       "difference": [324.0, -1.5, 0.0], "short": [False] * 3})
    >>> html = style_comparison(table).to_html()
    >>> "+324<" in html, "10,923<" in html, "-1.50<" in html, ">0<" in html
    (True, True, True, True)
    """
    def mark(row: pd.Series) -> list[str]:
        return ["color: #b00020" if row["short"] and c == "difference" else ""
                for c in row.index]

    table = _drop_constant(table.reset_index(drop=True))
    numbers = ["reported", "reproduced", "difference"]
    table[numbers] = [number_format.comparison(*row) for row in table[numbers].itertuples(
        index=False)]  # written as the scoreboard writes them (counts whole)
    return (table.style.apply(mark, axis=1)
            .hide(axis="index").hide(["short"], axis="columns"))


RESULT_COLUMNS = {  # results column -> (label on the page, number format)
    "train_acc": ("train acc (%)", "{:.2f}"), "val_acc": ("val acc (%)", "{:.2f}"),
    "test_acc": ("test acc (%)", "{:.2f}"),
    "test_acc_std": ("seed std", "{:.2f}"), "test_loss": ("test loss", "{:.3f}"),
    "top5_acc": ("top-5 acc (%)", "{:.2f}"),
    "initial_loss": ("initial loss", "{:.3f}"), "lr": ("learning rate", "{:.4g}"),
    "steps_per_epoch": ("steps / epoch", "{:.0f}"),
    "best_val_acc": ("best val acc (%)", "{:.2f}"),
    "epoch_time_s": ("s / epoch", "{:.2f}"), "gap": ("train - val (points)", "{:.2f}"),
    "step_ms": ("ms / step, in turns", "{:.2f}"),  # training.step_times
    "epochs": ("epochs", "{:.0f}"), "best_epoch": ("best epoch", "{:.0f}"),
    "time_s": ("train time (s)", "{:,.0f}"), "throughput": ("images/s", "{:,.0f}"),
    "peak_memory_mb": ("peak memory (MB)", "{:,.0f}"),
    "num_parameters": ("parameters", "{:,.0f}"),
    "precision": ("precision (%)", "{:.2f}"), "recall": ("recall (%)", "{:.2f}"),
    "f1": ("F1 (%)", "{:.2f}"), "f1_weighted": ("F1, weighted (%)", "{:.2f}"),
    "train_val_gap": ("train - val (points)", "{:.2f}"),
    "train_test_gap": ("train - test (points)", "{:.2f}"),
    "final_train_loss": ("last epoch's train loss", "{:.3f}"),
    "val_acc_over_chance": ("val acc / chance", "{:.2f}"),
}


def _drop_constant(table: pd.DataFrame) -> pd.DataFrame:
    """Leave out the experiment and profile columns when they hold one value: the
    chapter's heading and profile note already say it, and the page column is narrow."""
    constant = [c for c in ("experiment", "profile")
                if c in table and table[c].nunique() <= 1]
    return table.drop(columns=constant)


def style_results(results: pd.DataFrame, names: dict[str, str] | None = None):
    """A Styler of a chapter's results table with readable column labels and units.

    Args:
        results: one row per variant, columns among ``RESULT_COLUMNS`` (others keep
            their names and, if they hold floats, are written like the comparison
            tables' numbers; columns with no value at all are dropped), e.g.
            ``training.fit_variants(...).results``.
        names: display names for the variants (the index).

    >>> frame = pd.DataFrame({"test_acc": [81.137], "train_val_gap": [3.434378]})
    >>> style_results(frame).to_html().count("3.43<"), style_results(frame).columns[0]
    (1, 'test acc (%)')
    """
    shown = results.rename(index=names or {}).dropna(axis="columns", how="all")
    labels = {k: v[0] for k, v in RESULT_COLUMNS.items() if k in shown}
    formats = {v[0]: v[1] for k, v in RESULT_COLUMNS.items() if k in shown}
    formats |= {c: number_format.cell for c in shown.select_dtypes("float").columns
                if c not in RESULT_COLUMNS}
    return shown.rename(columns=labels).style.format(formats, na_rep="n/a")


def fact(results: pd.DataFrame, name: str, column: str, fmt: str = ".2f",
         missing: str = "n/a") -> str:
    """``results.loc[name, column]`` formatted for a chapter's closing text, or
    ``missing`` when the run left that variant out (its ``variants`` parameter) or has
    no such value (NaN: say what it means, e.g. "none (never reached)"). A small
    negative value that rounds to zero is written "0.0", not "-0.0".

    >>> frame = pd.DataFrame({"gap": [-0.02, -1.26, None]}, index=["dropout", "plain", "l1"])
    >>> fact(frame, "dropout", "gap", ".1f"), fact(frame, "plain", "gap", ".1f")
    ('0.0', '-1.3')
    >>> fact(frame, "l1", "gap", missing="none (never reached)")
    'none (never reached)'
    """
    if name not in results.index or column not in results:
        return missing
    value = results.loc[name, column]
    if pd.isna(value):
        return missing
    text = format(value, fmt)
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def above_below(value: float, unit: str = "points", fmt: str = ".1f") -> str:
    """A difference ``a - b`` in words, for "a is <this> b" in a chapter's closing
    text: its size with ``unit`` and "above" or "below", or "equal to" when it rounds
    to zero ("n/a" for NaN).

    >>> above_below(-0.62), above_below(2.0, "BLEU points"), above_below(0.01)
    ('0.6 points below', '2.0 BLEU points above', 'equal to')
    """
    if pd.isna(value):
        return "n/a"
    size = format(abs(value), fmt)
    if not size.strip("0."):
        return "equal to"
    return f"{size} {unit} {'above' if value > 0 else 'below'}"


def seed_spread_sentence(measure: str, amount: str, num_seeds: int) -> str:
    """The closing text's sentence on how far a model's ``measure`` moves from seed to
    seed (``amount``, the largest standard deviation over the seeds, already written
    with its unit), for a chapter that trains every model once per seed.

    >>> seed_spread_sentence("test accuracy", "1.2 points", 3)[:62]
    "A model's test accuracy moves from seed to seed by up to 1.2 p"
    >>> seed_spread_sentence("test MSE", "nan % of its mean", 1)[:34]
    'With one seed, this run cannot say'
    """
    if num_seeds < 2:
        return (f"With one seed, this run cannot say how far a model's {measure} moves "
                "from seed to seed, nor which of the differences more seeds would settle.")
    return (f"A model's {measure} moves from seed to seed by up to {amount} (standard "
            f"deviation over {num_seeds} seeds): a difference between two models much "
            "smaller than that is one the seeds do not settle.")


def early_stopping_sentence(results: pd.DataFrame, name: str, num_epochs: int,
                            patience: int) -> str:
    """What an early-stopping run did, for a chapter's closing text (after "Early
    stopping ..." or a run's name): it stopped and went back to its best epoch, ran
    every epoch, or was not trained. A run stopped when it ran fewer than
    ``num_epochs`` epochs; ``training.fit`` restores the best weights only then.

    >>> runs = pd.DataFrame({"epochs": [4, 6], "best_epoch": [2, 6], "test_acc": [80.0, 81.0]},
    ...                     index=["stopped", "ran_on"])
    >>> early_stopping_sentence(runs, "stopped", 6, 2)
    'stopped after epoch 4 and went back to its lowest validation loss, epoch 2 (test accuracy 80.00 %)'
    >>> early_stopping_sentence(runs, "ran_on", 6, 2)[:50]
    'ran all 6 epochs: its validation loss never went 2'
    >>> early_stopping_sentence(runs, "absent", 6, 2)
    'was not trained in this run'
    """
    if name not in results.index:
        return "was not trained in this run"
    epochs, score = int(results.loc[name, "epochs"]), fact(results, name, "test_acc")
    if epochs < num_epochs:
        return (f"stopped after epoch {epochs} and went back to its lowest validation "
                f"loss, epoch {fact(results, name, 'best_epoch', '.0f')} (test accuracy "
                f"{score} %)")
    return (f"ran all {num_epochs} epochs: its validation loss never went {patience} "
            f"epochs without a new low, so it kept the last epoch's weights (test accuracy "
            f"{score} %)")


def environment() -> dict:
    """Where a run happened: versions, device, threads, host platform."""
    import torch
    cuda = torch.cuda.is_available()
    return {"coursekit": coursekit.__version__, "python": platform.python_version(),
            "torch": torch.__version__, "platform": platform.platform(),
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "cpu": platform.processor() or platform.machine(),
            "num_threads": torch.get_num_threads(), "cuda": cuda}


def write_run_record(chapter: str, *, profile: str, params: dict, results: dict,
                     comparison: pd.DataFrame | None = None,
                     claims: pd.DataFrame | None = None, timings: dict | None = None,
                     run_dir: str | Path | None = None) -> Path:
    """Save a chapter run's record as ``record.json`` and return its path.

    The record holds chapter, profile, params, results, the chapter's reported-vs-
    reproduced rows (``comparison_table``) and claim rows (``claims.evaluate``), from
    which the book's scoreboard is built, timings, environment and the UTC time. It goes to
    ``run_dir`` (the run's folder, which ``coursekit run``/``build`` give ``Chapter``),
    else ``runs/<chapter>/`` under the working directory. Written to a temporary file
    first, so a killed run leaves no half-written record. Under ``torchrun`` only rank
    0 writes; the other ranks return the same path without writing.
    """
    from coursekit.training import distributed
    folder = Path(run_dir or Path("runs") / chapter)
    if not distributed.is_main():
        return folder / "record.json"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [] if comparison is None else _records(comparison)
    claim_rows = [] if claims is None else _records(claims)
    record = {"chapter": chapter, "profile": profile, "params": params,
              "results": results, "comparison": rows, "claims": claim_rows,
              "timings": timings or {},
              "environment": environment(),
              "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    path = folder / "record.json"
    write_text_atomic(path, json.dumps(record, indent=2, default=_jsonable))
    return path


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows of a comparison or claims table as JSON-ready dicts, NaN as None."""
    table = table.reset_index(drop=True).astype(object)
    return table.where(table.notna(), None).to_dict(orient="records")


def _jsonable(value):
    """Fallback for numpy scalars and similar in run records."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a run record")
