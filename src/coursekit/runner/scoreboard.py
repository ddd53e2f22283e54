"""The scoreboard page: every reported figure and claim beside ours, from run records.

``render_scoreboard`` reads the record of the run the book shows for each chapter
(:func:`.execute.book_run`, ``record.json`` in its run folder:
its reported-vs-reproduced rows, its claim rows, profile, device and date) and writes
one Markdown page. It opens with the totals of the build: the claims that hold, per
report and per part of the book, the headline numbers within ``SHORTFALL_POINTS`` of
the report, and one figure of every reported accuracy against ours
(``agreement_figure``, an SVG staged beside the page). Headline rows, listed in
``book/scoreboard.yml``, are run once per seed
(``plan_headline_runs``, as runs of their chapter with ``seed`` changed) and shown as
mean ± std.
Nothing on the page is typed by hand: a chapter that has not run says so.
"""

from __future__ import annotations

import fnmatch
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursekit.book import number_format

from . import store
from .cache import default_library_paths, library_digest
from .chapters import Chapter, find_chapter, list_chapters, read_yaml_mapping, toc_parts
from .errors import RunnerError
from .execute import RunOptions, Task, book_runs, plan_run, run_key
from .params import resolve_parameters, resolve_profile

__all__ = ["CONFIG", "FIGURE", "Headline", "agreement_figure", "book_records", "claim_rows",
           "headline_seeds", "headline_values", "plan_headline_runs", "read_headlines",
           "render_scoreboard"]

CONFIG = Path("book") / "scoreboard.yml"
FIGURE = "scoreboard_agreement.svg"  # staged beside book/scoreboard.md
FAILS = "does not hold"  # as coursekit.book.claims.FAILS (no pandas import to read a page)
SHORTFALL_POINTS = 1.5  # as coursekit.book.report.SHORTFALL_POINTS


@dataclass(frozen=True)
class Headline:
    """One headline row of the scoreboard (see ``book/scoreboard.yml``)."""

    label: str
    chapter: str
    value: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    own_seeds: bool = False  # the chapter trains every seed itself (seeds: chapter)
    reported: Mapping[str, Any] = field(default_factory=dict)
    narrows_only: bool = False  # params only narrow the run: they keep the row's number


def _config(root: Path) -> dict:
    path = root / CONFIG
    if not path.is_file():
        return {}
    return read_yaml_mapping(path, RunnerError, "a mapping with `seeds` and `headline`")


def read_headlines(root: Path) -> list[Headline]:
    """The headline rows of ``book/scoreboard.yml`` (none when the file is absent).

    Raises:
        RunnerError: for a row without label, chapter or value.
    """
    rows = []
    for i, raw in enumerate(_config(root).get("headline", []), 1):
        missing = [k for k in ("label", "chapter", "value") if k not in (raw or {})]
        if missing:
            raise RunnerError(f"{root / CONFIG}: headline row {i} lacks "
                              f"{', '.join(missing)}")
        narrows_only = raw.get("narrows_only", False)
        if not isinstance(narrows_only, bool):
            raise RunnerError(f"{root / CONFIG}: headline row {i}: narrows_only must be "
                              f"true or false, not {narrows_only!r}")
        rows.append(Headline(str(raw["label"]), str(raw["chapter"]),
                             tuple(str(v) for v in raw["value"]),
                             dict(raw.get("params", {})), raw.get("seeds") == "chapter",
                             dict(raw.get("reported", {})), narrows_only))
    return rows


def headline_seeds(root: Path, profile: str) -> list[int]:
    """The seeds each headline row runs with under ``profile``."""
    seeds = _config(root).get("seeds", {})
    return list(seeds.get(resolve_profile(profile), [0, 1, 2]))


def _names(variants: str) -> set[str]:
    """A chapter's ``variants`` parameter, ``"a,b"``, as a set of names."""
    return {name.strip() for name in variants.split(",") if name.strip()}


def _covered_by_plain_run(chapter: Chapter, profile: str, row: Headline,
                          point: Mapping) -> bool:
    """Whether the chapter's own run already trains the row's model at this point's seed.

    Only for a row marked ``narrows_only``: its ``params`` narrow the seed runs to its
    model without changing its number, so the plain run stands in for the seed it runs
    with, provided its ``variants`` ("all" or a list) include the row's.
    """
    if not row.narrows_only:
        return False
    plain = resolve_parameters(chapter, profile)
    if point.get("seed", plain.get("seed")) != plain.get("seed"):
        return False
    if "variants" not in row.params:
        return True
    return plain["variants"] == "all" or _names(row.params["variants"]) <= _names(
        plain["variants"])


def _stands_in(chapter: Chapter, profile: str, point: Mapping, row: Headline) -> bool:
    """Whether the chapter's own run is the run of the row's point."""
    same = resolve_parameters(chapter, profile, point) == resolve_parameters(chapter, profile)
    return same or _covered_by_plain_run(chapter, profile, row, point)


def _point_record(root: Path, chapter: Chapter, profile: str, point: Mapping,
                  row: Headline, library: str) -> dict | None:
    """The record of the newest successful run of one headline point: the chapter's
    plain run when it stands in (never a run pinned into the book, whose parameters
    may differ), else the point's own."""
    point = {} if _stands_in(chapter, profile, point, row) else point
    key = run_key(root, chapter, resolve_parameters(chapter, profile, point), library)
    run = store.latest_run(root, chapter.id, key)
    return (run.record() or None) if run is not None else None


def _points(root: Path, row: Headline, profile: str) -> list[dict[str, Any]]:
    if row.own_seeds:
        return [{}]  # the plain run holds every seed
    return [{**row.params, "seed": seed} for seed in headline_seeds(root, profile)]


def plan_headline_runs(root: Path, profile: str, library: str, *,
                       force: bool = False) -> list[Task]:
    """The seed runs of every headline row not already run by the book itself.

    The chapter's own run counts for the seed it runs with when it trains the row's
    model (see ``_covered_by_plain_run``), so only the other seeds run again.

    Raises:
        ChapterError, ParameterError: for an unknown chapter or parameter in
            ``book/scoreboard.yml``, before anything runs.
    """
    tasks = []
    for row in read_headlines(root):
        chapter = find_chapter(root, row.chapter)
        for point in _points(root, row, profile):
            if not _stands_in(chapter, profile, point, row):
                tasks.append(plan_run(root, chapter, profile, point, library,
                                      RunOptions(force=force)))
    return tasks


def _library(root: Path) -> str:
    """The library of the book's runs: the last build's, else the current one."""
    return store.book_library(root) or library_digest(default_library_paths(root))


def book_records(root: Path) -> dict[str, dict | None]:
    """Chapter id -> the record of the run the book shows (None: not run yet)."""
    return {chapter_id: (run.record() or None) if run is not None else None
            for chapter_id, run in book_runs(root).items()}


def _lookup(node: Any, path: Sequence[str]) -> list[float]:
    """The numbers at ``path`` in a record's results; ``*`` in a key matches several."""
    if not path:
        return [float(node)] if isinstance(node, (int, float)) and not isinstance(
            node, bool) and math.isfinite(node) else []
    if not isinstance(node, Mapping):
        return []
    keys = fnmatch.filter(node, path[0]) if "*" in path[0] else [path[0]]
    return [v for k in keys if k in node for v in _lookup(node[k], path[1:])]


def headline_values(root: Path, row: Headline, profile: str,
                    library: str | None = None) -> tuple[list[float], dict]:
    """The row's numbers over its seeds, and the first seed run's record (or {})."""
    chapter = find_chapter(root, row.chapter)
    library = library or _library(root)
    values, first = [], {}
    for point in _points(root, row, profile):
        record = _point_record(root, chapter, profile, point, row, library)
        if record:
            first = first or record
            values += _lookup(record.get("results", {}), row.value)
    return values, first


# ---------------------------------------------------------------- Markdown


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " "))


def _comparison_cells(row: Mapping[str, Any]) -> list[str]:
    """Reported, reproduced and difference of a comparison row, as the chapter page
    writes them (``number_format.comparison``), a shortfall marked **▼**."""
    reported, ours, difference = number_format.comparison(
        row.get("reported"), row.get("reproduced"), row.get("difference"))
    return [reported, ours, f"**▼ {difference}**" if row.get("short") else difference]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]],
           align: str = "") -> list[str]:
    align = align or "l" * len(headers)
    marks = {"l": ":---", "r": "---:"}
    return ["| " + " | ".join(headers) + " |",
            "| " + " | ".join(marks[a] for a in align) + " |",
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def _provenance(record: Mapping) -> str:
    env = record.get("environment", {})
    device = env.get("device", "?")
    if device == "cpu":
        device = f"CPU ({env.get('num_threads', '?')} threads)"
    created = str(record.get("created", "?")).replace("T", " ")[:16]
    return f"profile `{record.get('profile', '?')}` · {device} · {created} UTC"


def _reported_value(row: Headline) -> tuple[float | None, str]:
    spec = row.reported
    if "text" in spec:
        return None, _cell(spec["text"])
    try:
        from coursekit.book import report
        value = report.experiment(spec["experiment"])["variants"][spec["variant"]][
            spec["metric"]]
    except (KeyError, TypeError):
        return None, "n/a"
    return float(value), number_format.cell(value)


def _headline_numbers(root: Path, rows: Sequence[Headline],
                      profile: str) -> list[dict[str, Any]]:
    """Per headline row: its chapter, values over seeds, mean, std, reported, short."""
    headlines = []
    library = _library(root)
    for row in rows:
        values, record = headline_values(root, row, profile, library)
        reported, reported_text = _reported_value(row)
        mean = statistics.fmean(values) if values else None
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        short = None if mean is None or reported is None else \
            mean < reported - SHORTFALL_POINTS
        headlines.append({"row": row, "chapter": find_chapter(root, row.chapter),
                        "values": values, "record": record, "mean": mean, "std": std,
                        "reported": reported, "reported_text": reported_text,
                        "short": short})
    return headlines


def _headline_section(headlines: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["## Headline results", "",
             f"Each row ran once per seed (mean ± standard deviation over the seeds; "
             f"**▼** marks a mean more than {SHORTFALL_POINTS} points below the "
             "report). The device and date of each run are in its chapter's section "
             "below; the chapter page gives the command that re-runs it. A chapter's "
             "page and section show one of these runs, the chapter's own seed, so its "
             "number there is one seed's, not the mean.", ""]
    table = []
    for n in headlines:
        chapter, record = n["chapter"], n["record"]
        ours = "not run yet" if n["mean"] is None else f"{n['mean']:.2f} ± {n['std']:.2f}"
        ours = f"**▼ {ours}**" if n["short"] else ours
        table.append([_cell(n["row"].label),
                      f"{{doc}}`{chapter.id} <../chapters/{chapter.stem}>`",
                      n["reported_text"], ours, str(len(n["values"])),
                      f"`{record['profile']}`" if record.get("profile") else "n/a"])
    return lines + _table(["result", "chapter", "reported", "reproduced", "seeds",
                           "profile"], table, "llrrrl")


def _uncounted(rows: int) -> str:
    """The words on headline rows without a reported number (E3's: report E printed
    curves), which the share leaves out.

    >>> _uncounted(0), _uncounted(1)
    ('', '; 1 row without a reported number not counted')
    """
    if not rows:
        return ""
    return f"; {rows} row{'s' if rows > 1 else ''} without a reported number not counted"


def _chapter_section(chapter: Chapter, record: dict | None) -> list[str]:
    title = f"### {chapter.id}: {chapter.title}"
    link = f"{{doc}}`chapter page <../chapters/{chapter.stem}>`"
    if record is None:
        return [title, "", f"Not run yet: `coursekit run {chapter.id}` ({link}).", ""]
    lines = [title, "", f"{_provenance(record)} · {link}", ""]
    rows = record.get("comparison") or []
    claims = record.get("claims") or []
    if rows:
        lines += _table(
            ["experiment", "variant", "metric", "reported", "reproduced", "difference"],
            [[_cell(r.get("experiment")), _cell(r.get("variant")), _cell(r.get("metric")),
              *_comparison_cells(r)] for r in rows],
            "lllrrr")
    if claims:
        # the check, not the report's section (the chapter page has both): without it
        # "we measured 0.98" says nothing
        lines += _table(["experiment", "the report says", "check", "we measured",
                         "verdict"],
                        [[_cell(r.get("experiment")), _cell(r.get("the report says")),
                          _cell(r.get("check")), _cell(r.get("we measured")),
                          f"**{r['verdict']}**" if r.get("verdict") == FAILS
                          else _cell(r.get("verdict"))] for r in claims])
    if not rows and not claims:
        lines += ["This run's record holds no reported-vs-reproduced rows; re-run the "
                  f"chapter with `coursekit run {chapter.id} --force`.", ""]
    return lines


# ---------------------------------------------------------------- totals


def _report_of(experiment: str) -> str:
    """The report an experiment comes from: ``report`` in reported.yaml, else its
    id's letter (A1 -> A)."""
    try:
        from coursekit.book import report
        return str(report.experiment(experiment).get("report", experiment[:1]))
    except KeyError:
        return experiment[:1]


def claim_rows(root: Path, records: Mapping[str, dict | None] | None = None
               ) -> list[dict[str, Any]]:
    """Every claim row of the chapters' records (default: :func:`book_records`), with
    the chapter, its part of the book and the report the claim comes from."""
    parts = toc_parts(root)
    records = book_records(root) if records is None else records
    rows = []
    for chapter in list_chapters(root):
        record = records[chapter.id] or {}
        for row in record.get("claims") or []:
            rows.append({**row, "chapter": chapter.id,
                         "part": parts.get(f"chapters/{chapter.stem}", "other"),
                         "report": _report_of(str(row.get("experiment", chapter.id)))})
    return rows


def _count(rows: Sequence[Mapping], key: str) -> dict[str, dict[str, int]]:
    """Verdict counts (``claims.tally``) of the rows grouped by ``row[key]``."""
    from coursekit.book import claims
    groups: dict[str, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(str(row[key]), []).append(row)
    return {group: claims.tally(members) for group, members in groups.items()}


def _share_text(counts: Mapping[str, int]) -> tuple[str, str]:
    """("**N of M**", "P %") of ``claims.share``."""
    from coursekit.book import claims
    held, counted = claims.share(counts)
    return f"**{held} of {counted}**", f"{100 * held / counted:.0f} %" if counted else "n/a"


def _totals_table(groups: Mapping[str, Mapping[str, int]], name: str) -> list[str]:
    from coursekit.book import claims
    table = [[_cell(group), *_share_text(counts), str(counts[claims.FAILS]),
              str(counts[claims.UNTESTED]), str(counts[claims.CONTRADICTED])]
             for group, counts in groups.items()]
    return _table([name, "claims that hold", "share", "do not hold", "not tested",
                   "contradicted by the report"], table, "lrrrrr")


def _totals_section(root: Path, headlines: Sequence[Mapping[str, Any]],
                    figure: bool, records: Mapping[str, dict | None]) -> list[str]:
    from coursekit.book import claims
    rows = claim_rows(root, records)
    total = claims.tally(rows)
    held, share = _share_text(total)
    comparable = [n for n in headlines if n["reported"] is not None]
    within = [n for n in comparable if n["short"] is False]
    lines = ["## Does what the reports found hold?", "",
             f"Claims that hold: {held} ({share}). {total[claims.FAILS]} do not hold "
             f"and {total[claims.UNTESTED]} were not tested at the profile that built "
             "this page (they count against the share); "
             f"{total[claims.CONTRADICTED]} more are contradicted by the report itself "
             "and are left out of it. Each chapter's claims table says what was "
             "measured and why a claim was not tested.", "",
             f"**Headline numbers within {SHORTFALL_POINTS} points of the report (or "
             f"above): {len(within)} of {len(comparable)}**, mean over seeds (table "
             "below" + _uncounted(len(headlines) - len(comparable)) + ").", ""]
    by_report = dict(sorted(_count(rows, "report").items()))
    lines += ["Per report:", "", *_totals_table(by_report, "report")]
    lines += ["Per part of the book:", "", *_totals_table(_count(rows, "part"), "part")]
    if figure:
        lines += [f"```{{figure}} {FIGURE}", ":width: 80%", ":name: scoreboard-agreement",
                  "", "Every accuracy the reports give against the one this build "
                  "reproduced, one dot each, coloured by part of the book. On the diagonal "
                  f"the two agree; the grey band is ±{SHORTFALL_POINTS} points. Dots below "
                  "the band fall short of the report.", "```", ""]
    return lines


def _accuracy_points(root: Path, records: Mapping[str, dict | None]
                     ) -> list[dict[str, Any]]:
    parts = toc_parts(root)
    points = []
    for chapter in list_chapters(root):
        record = records[chapter.id] or {}
        for row in record.get("comparison") or []:
            ours, theirs = row.get("reproduced"), row.get("reported")
            if "accuracy" in str(row.get("metric")) and ours is not None and \
                    theirs is not None and math.isfinite(ours) and math.isfinite(theirs):
                points.append({"reported": theirs, "reproduced": ours,
                               "part": parts.get(f"chapters/{chapter.stem}", "other")})
    return points


def agreement_figure(root: Path, records: Mapping[str, dict | None] | None = None
                     ) -> bytes | None:
    """The scoreboard's figure as SVG bytes: every reported accuracy against ours in
    ``records`` (default: :func:`book_records`); None when no record has one yet."""
    points = _accuracy_points(root, book_records(root) if records is None else records)
    if not points:
        return None
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from coursekit.book import plots
    plots.use_book_style()
    fig = plots.plot_agreement(pd.DataFrame(points), band=SHORTFALL_POINTS)
    buffer = io.BytesIO()
    # the same records give the same bytes (fixed ids, no date), so a rebuild with
    # nothing changed rewrites nothing and Sphinx re-reads nothing
    with matplotlib.rc_context({"svg.hashsalt": "coursekit-scoreboard"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def render_scoreboard(root: Path, profile: str | None = None, *,
                      figure: bool = False,
                      records: Mapping[str, dict | None] | None = None) -> str:
    """The scoreboard page as MyST Markdown.

    Args:
        root: the book root.
        profile: whose seed runs the headline rows read; default: the book's profile
            (:func:`.store.book_profile`).
        figure: include the figure of :func:`agreement_figure` (staged beside the page
            as ``FIGURE``).
        records: the chapters' records (default: :func:`book_records`).
    """
    chapters = list_chapters(root)
    records = book_records(root) if records is None else records
    profile = profile or store.book_profile(root)
    lines = ["# Scoreboard", "",
             "Every figure and every claim of the reports, beside what this book's last "
             "build reproduced. The page is generated from the run records that "
             "`coursekit build` leaves in `_build/runs/`: each section says which "
             "profile, device and date produced it. The `smoke` profile proves that the "
             "code runs, not that the findings hold: read a `cpu` or `gpu` build's "
             "scoreboard for those.", ""]
    headlines = _headline_numbers(root, read_headlines(root), profile)
    lines += _totals_section(root, headlines, figure, records)
    if headlines:
        lines += _headline_section(headlines)
    lines += ["## Chapter by chapter", "",
              f"**▼** marks an accuracy more than {SHORTFALL_POINTS} points below the "
              "report.", ""]
    for chapter in chapters:
        lines += _chapter_section(chapter, records[chapter.id])
    return "\n".join(lines).rstrip() + "\n"
