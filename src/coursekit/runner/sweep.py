"""Sweeps: run a chapter once per combination of parameter values, then gather.

``coursekit sweep A6 -p batch_size=128,256 -p seed=0,1`` runs A6 four times. Each point
is an ordinary chapter run (checked, cached, executed by papermill) kept in the run
store (:mod:`.store`); the point equal to the chapter's plain run is that run itself. The gathered table has one row per point and reproduced number, read from the
points' run records (their reported-vs-reproduced rows), and goes to
``_build/sweeps/<ID>/<name>.csv`` with a figure beside it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chapters import Chapter, point_label
from .errors import ParameterError
from .execute import RunOptions, RunResult, Task, plan_run
from .params import parse_assignment

__all__ = ["Sweep", "parse_sweep", "sweep_points", "plan_sweep", "gather", "save_sweep"]


def _values(key: str, value: Any) -> list[Any]:
    """The values one ``-p`` argument sweeps over (see :func:`parse_sweep`)."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, str) and "," in value:
        return [parse_assignment(f"{key}={part.strip()}")[1]
                for part in value.split(",") if part.strip()]
    return [value]


def parse_sweep(texts: Iterable[str]) -> dict[str, list[Any]]:
    """Read ``-p key=v1,v2,...`` arguments into the values of each swept key.

    Values are read as by ``coursekit run -p``: ``batch_size=128,256`` sweeps two
    numbers, ``variants=lenet,super_lenet`` two names, ``seeds=[0],[1]`` two lists.
    A single value holds the key fixed. To keep a text with commas as one value, write
    it as a one-item tuple: ``"variants=('lenet,super_lenet',)"``.

    Raises:
        ParameterError: for a malformed argument or a key given twice.
    """
    sweep: dict[str, list[Any]] = {}
    for text in texts:
        key, value = parse_assignment(text)
        if key in sweep:
            raise ParameterError(f"-p {key}=... is given twice; list all its values "
                                 f"in one argument, e.g. -p {key}=1,2,3")
        sweep[key] = _values(key, value)
    return sweep


def sweep_points(sweep: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the swept values, the first key varying slowest."""
    keys = list(sweep)
    return [dict(zip(keys, combo)) for combo in itertools.product(*sweep.values())]


@dataclass
class Sweep:
    """A planned sweep: the chapter, its points and one task per point."""

    chapter: Chapter
    profile: str
    points: list[dict[str, Any]]
    tasks: list[Task]

    @property
    def name(self) -> str:
        """A file name for the gathered table, e.g. ``sweep-smoke-lr=0.1+0.2-<hash>``."""
        values = {k: "+".join(dict.fromkeys(str(p[k]) for p in self.points))
                  for k in (self.points[0] if self.points else {})}
        return f"sweep-{self.profile}-" + point_label(values)


def plan_sweep(root: Path, chapter: Chapter, profile: str,
               sweep: Mapping[str, Sequence[Any]], library: str, *,
               force: bool = False) -> Sweep:
    """Check every point's parameters, then plan one run per point.

    Each point is an ordinary run in the store: a point whose parameters equal the
    chapter's plain run reuses that run, so the book's own run is never repeated.

    Raises:
        ParameterError: for an unknown key or a wrong type in any point, before
            anything runs.
    """
    points = sweep_points(sweep)
    if not points or any(not values for values in sweep.values()):
        raise ParameterError("a sweep needs at least one value for each -p KEY=V1,V2")
    tasks = [plan_run(root, chapter, profile, point, library, RunOptions(force=force))
             for point in points]  # plan_run checks each point first
    return Sweep(chapter, profile, points, tasks)


def _record(result: RunResult) -> dict:
    path = Path(result.run_dir or "") / "record.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def gather(points: Sequence[Mapping[str, Any]], results: Sequence[RunResult]):
    """One row per point and reproduced number (pandas DataFrame, long form).

    Columns: the swept keys, ``status``, ``experiment``, ``variant``, ``metric``,
    ``reproduced`` and ``reported``; claims-only chapters give ``metric`` "claim N"
    and ``holds`` instead of numbers. A failed point gives one row with its status.
    """
    import pandas as pd  # lazily: the command line starts faster without it

    rows = []
    for point, result in zip(points, results):
        base = {**{k: _cell(v) for k, v in point.items()}, "status": result.status}
        comparison = _record(result).get("comparison", []) if result.ok else []
        if not comparison:
            rows.append(base)
        claim = 0
        for row in comparison:
            if "report claims" in row:
                claim += 1
                rows.append({**base, "experiment": row.get("experiment"),
                             "metric": f"claim {claim}", "variant": row["report claims"],
                             "holds": row.get("holds here")})
            else:
                rows.append({**base, **{k: row.get(k) for k in (
                    "experiment", "variant", "metric", "reproduced", "reported")}})
    return pd.DataFrame(rows)


def _cell(value: Any) -> Any:
    """A swept value as a table cell: lists become text."""
    return value if isinstance(value, (int, float, str, bool)) else repr(value)


def save_sweep(table, folder: Path, name: str, x: str, *, title: str = "",
               metric: str | None = None) -> tuple[Path, Path | None]:
    """Write the table as CSV and, when it has numbers, a figure of one metric.

    Args:
        table: :func:`gather`'s table.
        folder: where both files go.
        name: their file name without suffix.
        x: the swept key on the horizontal axis.
        title: the figure's title.
        metric: the metric drawn (a substring of its name); default: the first test
            metric, else the first one.
    Returns:
        The CSV path and the figure path (None when nothing numeric was measured).
    """
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    table.to_csv(csv, index=False)
    numbers = table.dropna(subset=["reproduced"]) if "reproduced" in table else table[:0]
    if numbers.empty:
        return csv, None
    chosen = pick_metric(numbers["metric"].unique(), metric)
    frame = numbers[numbers["metric"] == chosen].astype({"reproduced": float})

    import matplotlib
    matplotlib.use("Agg")
    from coursekit.book import plots

    plots.use_book_style()
    figure = plots.plot_sweep(frame, x=x, y="reproduced", hue="variant",
                              ylabel=chosen, title=title)
    png = folder / f"{name}.png"
    figure.savefig(png, bbox_inches="tight")
    return csv, png


def pick_metric(metrics: Sequence[str], wanted: str | None = None) -> str:
    """The metric matching ``wanted`` (a substring), else the first test metric.

    Raises:
        ParameterError: if ``wanted`` matches none; the message lists them.
    """
    metrics = list(metrics)
    if wanted:
        matches = [m for m in metrics if wanted.lower() in m.lower()]
        if not matches:
            raise ParameterError(f"--metric {wanted!r} matches none of the measured "
                                 f"metrics: {', '.join(metrics)}")
        return matches[0]
    return next((m for m in metrics if "test" in m.lower()), metrics[0])
