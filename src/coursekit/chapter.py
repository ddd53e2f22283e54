"""One object that owns a chapter's bookkeeping, from its parameters to its run record.

A chapter notebook opens with ``ch = Chapter(globals())`` under its parameters
cell and closes with ``ch.finish(...)``; in between it hands its results to
``ch.compare`` (the reported-vs-reproduced table) and ``ch.claims`` (the report's
claims, checked by :mod:`coursekit.book.claims`). The object

- takes the parameters from the names of the chapter's ``parameters`` cell (read by
  the runner), with the values the notebook ran with, so the record always holds every
  parameter and never a hand-copied subset;
- knows the profile, and which claims that profile cannot test (the notebook
  metadata's ``coursekit.untested``);
- writes one complete run record, and glues the facts the chapter's closing text cites;
- saves the epochs the chapter trained (:func:`coursekit.training.epoch_log`) as
  ``epochs.json`` beside the record, so a tracker can draw every curve.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from coursekit import training
from coursekit.book import claims as claims_, report

__all__ = ["Chapter"]

# Where a kernel learns the path of its notebook: ipykernel sets __session__ from
# the JPY_SESSION_NAME that Jupyter Server (and coursekit run) give the kernel;
# VS Code sets __vsc_ipynb_file__; Colab sets neither (see _colab_notebook).
_NOTEBOOK_NAMES = ("__session__", "__vsc_ipynb_file__")


def _colab_notebook() -> Path | None:
    """On Colab, which sets no session name: the chapter whose id the open notebook's
    metadata holds, found in the book the chapter's first cell cloned (the current
    folder). ``google.colab._message`` is Colab's own (private) channel to its front
    end; None anywhere else, or if it does not answer."""
    import sys
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import _message
        opened = _message.blocking_request("get_ipynb", timeout_sec=10)["ipynb"]
        chapter_id = opened["metadata"]["coursekit"]["id"]
    except Exception:  # noqa: BLE001 (an old Colab, a timeout: fall back to notebook=)
        return None
    from coursekit import runner
    return runner.find_chapter(runner.find_book_root(), str(chapter_id)).path


def _this_notebook(namespace: Mapping[str, Any], notebook: str | Path | None) -> Path:
    """The path of the notebook whose ``globals()`` are ``namespace``."""
    from coursekit.runner import ChapterError
    given = notebook or next((namespace[n] for n in _NOTEBOOK_NAMES
                              if str(namespace.get(n, "")).endswith(".ipynb")), None)
    given = given or _colab_notebook()
    if given is None:
        raise ChapterError(
            "Chapter(globals()) cannot tell which notebook this is: this kernel was not "
            "started by JupyterLab, Jupyter Notebook 7, VS Code or coursekit run. Name "
            "it: Chapter(globals(), notebook='chapters/X1_my_fork.ipynb').")
    path = Path(given).expanduser()
    if not path.is_file():
        raise ChapterError(f"Chapter(globals()): the notebook {path} does not exist; "
                           "pass notebook='chapters/<ID>_<slug>.ipynb'.")
    return path.resolve()


class Chapter:
    """The bookkeeping of one chapter run.

    ``Chapter(globals())`` takes the chapter from the notebook it runs in: its file
    name and ``coursekit`` metadata give the id, title and profiles, so a fork needs
    no id typed in a cell. The notebook is the one Jupyter tells the kernel about
    (``__session__``, which JupyterLab, Notebook 7, VS Code's ``__vsc_ipynb_file__``
    and ``coursekit run`` all provide; on Colab, the open notebook's metadata), or
    ``notebook=`` where nothing does.
    ``Chapter("D1", globals())`` (an id, then the namespace) still works.

    Args:
        namespace: the notebook's ``globals()``, where papermill has put the
            parameters this run uses.
        notebook: the notebook's path, for a kernel that does not know it.
    Raises:
        ChapterError: for an id the book does not have, or a notebook that cannot be
            told (the message says how to name it).
        NameError: when a parameter of the ``parameters`` cell is not defined.
    """

    def __init__(self, namespace: Mapping[str, Any] | str, *args: Mapping[str, Any],
                 notebook: str | Path | None = None):
        from coursekit import runner  # the runner reads notebooks; only it knows them
        if isinstance(namespace, str):  # the older form: Chapter("D1", globals())
            (namespace,), chapter_id = args, namespace
            self._meta = runner.find_chapter(runner.find_book_root(), chapter_id)
        else:
            path = _this_notebook(namespace, notebook)
            self._meta = runner.find_chapter(runner.find_book_root(path.parent), path.name)
        self.id = self._meta.id
        # coursekit run injects the run's folder as one more parameter: the record goes
        # there, and epochs print as rows instead of progress bars
        self.run_dir = namespace.get(runner.RUN_DIR_PARAMETER)
        if self.run_dir is not None:
            training.show_progress(False)
        names = runner.read_parameters(self._meta)
        missing = [n for n in names if n not in namespace]
        if missing:
            raise NameError(f"{self.id}: parameters {', '.join(missing)} are not defined; "
                            "run the parameters cell first")
        self.params: dict[str, Any] = {n: namespace[n] for n in names}
        self.profile = str(self.params.get("profile", "cpu"))
        self.results: dict[str, dict[str, dict[str, Any]]] = {}
        self._comparisons: dict[str, pd.DataFrame] = {}  # experiment -> rows, like _claims
        self._claims: dict[str, pd.DataFrame] = {}
        self._started = time.perf_counter()
        self._first_epoch = len(training.epoch_log())
        self.record_path: Path | None = None  # set by finish

    # ------------------------------------------------------------ the report's side

    @property
    def experiments(self) -> tuple[str, ...]:
        """The experiment ids of ``reported.yaml`` this chapter reproduces."""
        return self._meta.experiments or (self.id,)

    def reported(self, experiment: str, variant: str, metric: str) -> float:
        """One number of the report, e.g. ``ch.reported("D1", "compact_cnn", "test_acc")``."""
        return float(report.reported(experiment).loc[variant, metric])

    def untested(self, experiment: str) -> dict[str, str]:
        """Claim id -> why this chapter's profile cannot test it."""
        prefix = f"{experiment}."
        return {k[len(prefix):]: why
                for k, why in self._meta.untested.get(self.profile, {}).items()
                if k.startswith(prefix)}

    # ------------------------------------------------------------ results and tables

    def add_results(self, experiment: str, results: pd.DataFrame | Mapping) -> None:
        """Keep an experiment's results (``results[variant][metric]``) for the record;
        variants already kept are updated, so a chapter may add them in steps."""
        self.results.setdefault(experiment, {}).update(claims_.results_mapping(results))

    def compare(self, experiment: str, results: pd.DataFrame | Mapping | None = None, *,
                metrics: list[str] | None = None):
        """The reported-vs-reproduced table of an experiment, kept for the record.

        Args:
            experiment: key in ``reported.yaml``.
            results: results to add first (see :meth:`add_results`).
            metrics: metric keys to compare; default: every one both sides have.
        Returns:
            A pandas Styler for the page. Where the report gives numbers that are shown
            but never compared (``report.shown_table``: report A's GPU measurements),
            the comparison is displayed and the Styler returned is theirs.
        """
        if results is not None:
            self.add_results(experiment, results)
        frame = pd.DataFrame.from_dict(self.results.get(experiment, {}), orient="index")
        table = report.comparison_table(experiment, frame, profile=self.profile,
                                        metrics=metrics)
        self._comparisons[experiment] = table  # a cell run twice replaces its rows
        shown = report.shown_table(experiment)
        if shown is None:
            return report.style_comparison(table)
        from IPython.display import display  # the comparison first, then what is not
        display(report.style_comparison(table))
        return report.style_shown(shown, report.experiment(experiment)["source"])

    def claims(self, experiment: str, results: pd.DataFrame | Mapping | None = None):
        """The report's claims on an experiment, checked against this run.

        Returns:
            A pandas Styler of :func:`coursekit.book.claims.evaluate`'s rows.
        """
        if results is not None:
            self.add_results(experiment, results)
        rows = claims_.evaluate(experiment, self.results.get(experiment, {}),
                                profile=self.profile, untested=self.untested(experiment))
        self._claims[experiment] = rows
        return claims_.style_claims(rows)

    def verdict(self, experiment: str, claim_id: str) -> str:
        """The verdict of one claim checked so far, e.g. ``"holds"``.

        Raises:
            KeyError: if :meth:`claims` has not checked that experiment or claim.
        """
        rows = self._claims[experiment]
        match = rows.loc[rows["claim"] == claim_id, "verdict"]
        if match.empty:
            raise KeyError(f"{experiment} has no claim {claim_id!r}; "
                           f"its claims: {', '.join(rows['claim'])}")
        return str(match.iloc[0])

    def tally(self) -> dict[str, int]:
        """Verdict -> number of claims, over every experiment checked so far."""
        rows = [r for t in self._claims.values() for r in t.to_dict(orient="records")]
        return claims_.tally(rows)

    def summary(self) -> str:
        """Markdown: how many of the claims checked hold, and which do not (each with
        what we measured and the check it failed, and why when it was not tested), for
        the chapter's "What we learned"."""
        count = self.tally()
        held, counted = claims_.share(count)
        fails, contradicted = count[claims_.FAILS], count[claims_.CONTRADICTED]
        lines = [f"**{held} of {counted} claims hold** at the "
                 f"`{self.profile}` profile ({fails} {'does' if fails == 1 else 'do'} not "
                 f"hold, {count[claims_.UNTESTED]} not tested"
                 + (f"; {contradicted} more {'is' if contradicted == 1 else 'are'} "
                    "contradicted by the report itself" if contradicted else "") + ")."]
        listed = [(experiment, row) for experiment, rows in self._claims.items()
                  for row in rows.to_dict(orient="records")
                  if row["verdict"] in (claims_.FAILS, claims_.UNTESTED)]
        # a reason is given for a claim not tested, once for neighbours that share it
        reasons = claims_.notes_once(pd.Series(
            [(row["note"] or "").rstrip(".") if row["verdict"] == claims_.UNTESTED else ""
             for _, row in listed], dtype=object))
        for (experiment, row), reason in zip(listed, reasons):
            why = f" Why: {_as_text(reason)}." if reason else ""  # reasons hold parentheses
            check = f" (check: {_as_text(row['check'])})" if row.get("check") else ""
            lines.append(f"- {row['verdict'].capitalize()}, {experiment}: "
                         f"\"{_as_text(row['the report says'])}\"; we measured "
                         f"{_as_text(row['we measured'])}{check}.{why}")
        return "\n".join(lines)

    # ------------------------------------------------------------ the record

    def finish(self, facts: Mapping[str, Any] | None = None,
               timings: Mapping[str, float] | None = None) -> None:
        """Write the run record and glue the facts the closing text cites.

        Returns nothing, so the notebook's last line shows nothing (the record's path,
        a temporary folder while the runner works, is ``self.record_path``).

        Args:
            facts: name -> value shown with ``{glue:text}`name``` in the text; each
                claim's verdict is glued too, as ``<experiment>.<claim id>``.
            timings: seconds spent in named phases; the chapter's total is added.
        """
        from myst_nb import glue
        timings = {**(timings or {}),
                   "chapter_s": round(time.perf_counter() - self._started, 1)}
        comparison = pd.concat(self._comparisons.values()) if self._comparisons else None
        claim_rows = pd.concat(self._claims.values()) if self._claims else None
        path = report.write_run_record(self.id, profile=self.profile, params=self.params,
                                       results=self.results, comparison=comparison,
                                       claims=claim_rows, timings=timings,
                                       run_dir=self.run_dir)
        epochs = training.epoch_log()[self._first_epoch:]
        (path.parent / "epochs.json").write_text(json.dumps(epochs), encoding="utf-8")
        for experiment, rows in self._claims.items():
            for claim_id, verdict in zip(rows["claim"], rows["verdict"]):
                glue(f"{experiment}.{claim_id}", verdict, display=False)
        for name, value in (facts or {}).items():
            glue(name, value, display=False)
        self.record_path = path


def _as_text(text: str) -> str:
    """``text`` for Markdown, shown as written: "<EOS>" in a quoted sentence would
    otherwise be read as an HTML tag and vanish from the page."""
    return html.escape(str(text), quote=False)
