"""The ``coursekit`` command: list, run and build the book's chapters; fetch data.

Examples::

    coursekit list
    coursekit params A1 --profile smoke
    coursekit run A1 --profile smoke -p num_epochs=2
    coursekit runs A1
    coursekit runs compare 20261129-2215 20261129-2231
    coursekit sweep A6 --profile smoke -p batch_size=64,128 -p seed=0,1
    coursekit build --profile cpu --executor dask --scheduler tcp://host:8786
    coursekit data status

Errors the reader can fix (unknown chapter, bad parameter, missing dataset) are printed
as one message and exit with status 2; a chapter that fails while running exits 1.
Every run is kept in ``_build/runs/<ID>/<run id>/``; ``run``, ``sweep``, ``build`` and
``runs prune`` take the book's lock, so a second one waits for the first.
The work is done by :mod:`coursekit.runner` and :mod:`coursekit.data`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import coursekit
from coursekit import runner
from coursekit.runner import RunnerError, RunResult, store
from coursekit.runner import runs as stored

__all__ = ["main", "build_parser"]

_PROFILE_HELP = ("how big a run: " + ", ".join(f"{name} ({text})" for name, text
                                               in runner.PROFILES.items())
                 + ", auto (gpu if CUDA is available, else cpu; the default)")


# ---------------------------------------------------------------- output helpers


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned text table with a dashed line under the headers."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _show(path: Path) -> str:
    """A path relative to the current directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _root(args: argparse.Namespace) -> Path:
    if args.root is None:
        return runner.find_book_root()
    root = Path(args.root).resolve()
    if not (root / "_toc.yml").is_file() or not (root / "chapters").is_dir():
        raise RunnerError(
            f"--root {args.root}: not a book root (it needs a _toc.yml and a "
            "chapters/ folder)"
        )
    return root


def _describe(result: RunResult, full: bool = False) -> str:
    """One line on how a run went; ``full`` keeps every line of an error."""
    if result.status == "cached":
        return "cached: nothing changed since the last run (use --force to re-run)"
    if result.status == "failed":
        error = result.error if full else _first_line(result.error or "")
        return f"FAILED after {result.seconds:.1f} s: {error}"
    return f"ok in {result.seconds:.1f} s"


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] + (" [...]" if len(lines) > 1 else "") if lines else ""


# ---------------------------------------------------------------- commands


def _cmd_list(args: argparse.Namespace) -> int:
    root = _root(args)
    chapters = runner.list_chapters(root)
    if not chapters:
        print(f"no chapters in {_show(root / 'chapters')}")
        return 0
    rows = [
        (ch.id, ch.title, ", ".join(ch.experiments), f"chapters/{ch.path.name}")
        for ch in chapters
    ]
    print(_table(("id", "title", "experiments", "file"), rows))
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    chapter = runner.find_chapter(_root(args), args.chapter)
    values = runner.resolve_parameters(chapter, args.profile)
    profile = values["profile"]
    rows = [
        (p.name, p.type_name, repr(p.default), repr(values[p.name]),
         p.rule or "-", p.help)
        for p in runner.read_parameters(chapter).values()
    ]
    print(f"{chapter.id}: {chapter.title}  (profile {profile})\n")
    print(_table(("parameter", "type", "default", f"value ({profile})", "allowed",
                  "note"), rows))
    print(f"\nChange one with: coursekit run {chapter.id} --profile {profile} "
          "-p KEY=VALUE")
    return 0


def _executor(args: argparse.Namespace) -> runner.Executor:
    return runner.make_executor(args.executor, args.scheduler, args.workers)


def _records_of(folder: Path | None) -> str:
    records = sorted(p.name for p in folder.iterdir()) if folder and folder.is_dir() else []
    return f" ({', '.join(records)})" if records else " (empty)"


def _lock(args: argparse.Namespace, root: Path):
    """The book's lock, held for the whole command (see :mod:`coursekit.runner.lock`)."""
    return runner.book_lock(root, args.command_line, wait=not args.no_wait)


def _track(args: argparse.Namespace, root: Path, results: Sequence[RunResult]) -> None:
    """Log each executed run to MLflow when ``--track`` was given."""
    if not getattr(args, "track", False):
        return
    from coursekit.runner import track

    executed = [r for r in results if r.run_dir and r.status != "cached"]
    for result in executed:
        track.track_run(root, store.open_run(result.run_dir))
    print(f"tracked {len(executed)} run(s) in MLflow: mlflow ui --backend-store-uri "
          f"{track.tracking_uri(root)}" if executed else
          "nothing new to track in MLflow (runs reused from the store were logged when "
          "they ran; re-run with --force to log them again)")


def _cmd_run(args: argparse.Namespace) -> int:
    root = _root(args)
    chapter = runner.find_chapter(root, args.chapter)
    overrides = runner.parse_assignments(args.param)
    runner.resolve_parameters(chapter, args.profile, overrides)  # fail before printing
    with _lock(args, root):
        print(f"running {chapter.id} ({chapter.title}) ...", flush=True)
        if args.executor == "local" and not args.scheduler:
            result = runner.run_chapter(
                root, chapter, profile=args.profile, overrides=overrides,
                options=runner.RunOptions(force=args.force, stream=not args.quiet),
                output=args.output)
        else:
            if args.output is not None:
                raise RunnerError("--output works with the local executor only")
            library = runner.library_digest(runner.default_library_paths(root))
            task = runner.plan_run(root, chapter, args.profile, overrides, library,
                                   runner.RunOptions(force=args.force))
            executor = _executor(args)
            try:
                [result] = executor.run([task])
            finally:
                executor.close()
        if args.into_book and result.ok:
            store.pin_run(root, store.open_run(result.run_dir))
        _track(args, root, [result])
    profile = result.params["profile"]
    print(f"{chapter.id} under profile {profile}: {_describe(result, full=True)}")
    print(f"run:               {result.run_id}  (see it with: coursekit runs {chapter.id})")
    print(f"executed notebook: {_show(result.executed)}")
    print(f"run folder:        {_show(result.run_dir)}/{_records_of(result.run_dir)}")
    shown = runner.book_run(root, chapter)
    in_book = shown is not None and shown.id == result.run_id
    print("the book shows this run" if in_book else
          "the book is unchanged (put this run into it with --into-book, or "
          f"coursekit runs pin {result.run_id})" if result.ok else
          "the book is unchanged")
    return 0 if result.ok else 1


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.0f} min"


def _progress_printer(root: Path, tasks: Sequence[runner.Task], state: str):
    """``on_start`` for a build: the run's number, and the time the rest should take
    from the last recorded times (:func:`coursekit.runner.runs.estimate_seconds`)."""
    estimates = dict(zip((id(t) for t in tasks), stored.estimate_seconds(root, tasks)))
    order = {id(t): i for i, t in enumerate(tasks)}

    def on_start(task: runner.Task) -> None:
        i = order.get(id(task), 0)
        rest = [estimates.get(id(t)) for t in tasks[i:]]
        known = sum(e for e in rest if e is not None)
        unknown = sum(e is None for e in rest)
        never = f"{unknown} run(s) with no earlier time" if unknown else ""
        left = (never if unknown == len(rest) else f"about {_seconds(known)} left"
                + (f", plus {never}" if unknown else ""))
        print(f"[{i + 1}/{len(tasks)}] {task.label}: {state} ... ({left})", flush=True)
    return on_start


def _cmd_sweep(args: argparse.Namespace) -> int:
    root = _root(args)
    chapter = runner.find_chapter(root, args.chapter)
    values = runner.parse_sweep(args.param)
    if not values:
        raise RunnerError("give the values to sweep, e.g. -p seed=0,1,2")
    library = runner.library_digest(runner.default_library_paths(root))
    sweep = runner.plan_sweep(root, chapter, args.profile, values, library,
                              force=args.force)
    with _lock(args, root):
        print(f"sweeping {chapter.id} over {len(sweep.points)} point(s) with the "
              f"{args.executor} executor ...", flush=True)
        executor = _executor(args)
        state = "running" if executor.name == "local" else "queued"
        try:
            results = executor.run(
                sweep.tasks, on_start=_progress_printer(root, sweep.tasks, state),
                on_result=lambda r: print(f"{r.label}: {_describe(r)}", flush=True))
        finally:
            executor.close()
        _track(args, root, results)
    table = runner.gather(sweep.points, results)
    x = next(k for k, v in values.items() if len(v) > 1) if any(
        len(v) > 1 for v in values.values()) else next(iter(values))
    folder = root / "_build" / "sweeps" / chapter.id
    csv, png = runner.save_sweep(table, folder, sweep.name, x, metric=args.metric,
                                 title=f"{chapter.id}: {x} swept")
    _print_sweep(table, list(values), args.metric)
    print(f"\ntable:  {_show(csv)}" + (f"\nfigure: {_show(png)}" if png else ""))
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"FAILED: {r.command}\n  {_first_line(r.error or '')}")
    return 1 if failed else 0


def _print_sweep(table: Any, keys: list[str], metric: str | None) -> None:
    """The gathered table, one row per point, one column per variant of one metric."""
    if "reproduced" in table and table["reproduced"].notna().any():
        numbers = table.dropna(subset=["reproduced"])
        chosen = runner.sweep.pick_metric(numbers["metric"].unique(), metric)
        wide = numbers[numbers["metric"] == chosen].pivot_table(
            index=keys, columns="variant", values="reproduced", sort=False)
        print(f"\n{chosen}:\n{wide.round(2).to_string()}")
    elif "holds" in table:
        wide = table.pivot_table(index=keys, columns="metric", values="holds",
                                 aggfunc="first", sort=False)
        print(f"\ndoes each claim hold?\n{wide.to_string()}")
    else:
        print(table.to_string(index=False))


def _cmd_build(args: argparse.Namespace) -> int:
    root = _root(args)
    with _lock(args, root):
        executor = _executor(args)
        state = "running" if executor.name == "local" else "queued"
        try:
            tasks = runner.plan_book(root, profile=args.profile, force=args.force,
                                     seeds=not args.no_seeds)
            result = runner.build_book(
                root, profile=args.profile, force=args.force, html=False,
                seeds=not args.no_seeds, executor=executor, tasks=tasks,
                on_start=_progress_printer(root, tasks, state),
                on_result=lambda r: print(f"{r.label}: {_describe(r)}", flush=True),
            )
        finally:
            executor.close()
        runs = result.runs + result.seed_runs
        _track(args, root, runs)
        rows = [(r.label, r.status, f"{r.seconds:.1f}") for r in runs]
        print("\n" + _table(("run", "status", "seconds"), rows))
        if not args.no_html:
            print("\nbuilding the HTML with jupyter-book ...", flush=True)
            html = runner.build_html(root)
            print(f"HTML: {_show(html / 'index.html')}")
    failed = result.failed
    if not failed:
        return 0
    print(f"\n{len(failed)} run(s) failed; their pages show the error:")
    for r in failed:
        print(f"  {r.chapter}: {_first_line(r.error or '')}\n"
              f"    reproduce with: {r.command}")
    return 1


# ---------------------------------------------------------------- runs


def _cmd_runs(args: argparse.Namespace) -> int:
    root = _root(args)
    words = list(args.words)
    action = words.pop(0) if words and words[0] in _RUNS_ACTIONS else "list"
    wanted = {"list": (0, 1), "compare": (2, 2), "prune": (0, 1), "pin": (1, 1),
              "unpin": (1, 1)}[action]
    if not wanted[0] <= len(words) <= wanted[1]:
        raise RunnerError(f"usage: {_RUNS_USAGE[action]}")
    return _RUNS_ACTIONS[action](args, root, words)


def _runs_list(args: argparse.Namespace, root: Path, words: list[str]) -> int:
    rows = stored.run_rows(root, words[0] if words else None)
    if not rows:
        print("no runs yet: coursekit run CHAPTER, or coursekit build")
        return 0
    table = [(r.run.id, r.run.chapter,
              " ".join(runner.format_assignment(k, v) for k, v in r.run.overrides.items())
              or "-", r.run.status, f"{r.run.seconds:.0f}",
              ("book" if r.in_book else "") + ("" if r.current else " stale"),
              stored.headline(r.run)) for r in rows]
    print(_table(("run", "chapter", "changed", "status", "seconds", "marks", "result"),
                 table))
    print("\n'book': the run the book shows; 'stale': the chapter, its parameters or the "
          "library changed since. Compare two with: coursekit runs compare RUN RUN")
    return 0


def _runs_compare(args: argparse.Namespace, root: Path, words: list[str]) -> int:
    a, b = (store.find_run(root, w) for w in words)
    sides = stored.compare(a, b)
    print(f"A = {a.id} ({a.chapter}, {a.status})\nB = {b.id} ({b.chapter}, {b.status})\n")
    print("parameters that differ:")
    print(_table(("parameter", "A", "B"), sides["parameters"]) if sides["parameters"]
          else "  none")
    if sides["results"]:
        def num(v):
            return f"{v:.2f}" if isinstance(v, (int, float)) else "-"
        rows = [(e, v, m, num(x), num(y), num(r)) for e, v, m, x, y, r in sides["results"]]
        print("\nresults:\n" + _table(("experiment", "variant", "metric", "A", "B",
                                         "report"), rows))
    if sides["claims"]:
        print("\nclaims:\n" + _table(("experiment", "claim", "A", "B"), sides["claims"]))
    return 0


def _runs_prune(args: argparse.Namespace, root: Path, words: list[str]) -> int:
    with _lock(args, root):
        doomed = stored.prunable(root, words[0] if words else None)
        if not doomed:
            print("nothing to prune")
            return 0
        size = sum(d.megabytes for d in doomed)
        print(_table(("folder", "why"), [(_show(d.folder), d.reason) for d in doomed]))
        if not args.yes:
            print(f"\n{len(doomed)} folder(s), {size:.1f} MB would be removed; nothing "
                  "was. Remove them with: coursekit runs prune --yes")
            return 0
        stored.prune(doomed)
        print(f"\nremoved {len(doomed)} folder(s), {size:.1f} MB")
    return 0


def _runs_pin(args: argparse.Namespace, root: Path, words: list[str]) -> int:
    with _lock(args, root):
        run = store.find_run(root, words[0])
        store.pin_run(root, run)
    print(f"the book now shows run {run.id} for {run.chapter} (until: coursekit runs "
          f"unpin {run.chapter}); rebuild the HTML with: coursekit build")
    return 0


def _runs_unpin(args: argparse.Namespace, root: Path, words: list[str]) -> int:
    chapter = runner.find_chapter(root, words[0])
    with _lock(args, root):
        had = store.unpin(root, chapter.id)
    print(f"{chapter.id}: the book shows the run of its own profile again" if had else
          f"{chapter.id}: no run was put into the book")
    return 0


_RUNS_ACTIONS = {"list": _runs_list, "compare": _runs_compare, "prune": _runs_prune,
                 "pin": _runs_pin, "unpin": _runs_unpin}
_RUNS_USAGE = {
    "list": "coursekit runs [list] [CHAPTER]",
    "compare": "coursekit runs compare RUN RUN (run ids or their first characters)",
    "prune": "coursekit runs prune [CHAPTER] [--yes]",
    "pin": "coursekit runs pin RUN",
    "unpin": "coursekit runs unpin CHAPTER",
}


def _data_table(datasets: Sequence[dict[str, Any]]) -> str:
    """The table of ``coursekit.data.status()``: one row per dataset."""
    # "where" is what coursekit.data returns; "found" is the older name of that key
    columns = ["name", "title", "where", "path", "detail", "download"]
    rows = [
        [d.get(c, d.get("found")) if c == "where" else d.get(c) for c in columns]
        for d in datasets
    ]
    rows = [["-" if v in (None, "", False) else v for v in row] for row in rows]
    return _table(columns, rows)


def _datasets_to_fetch(args: argparse.Namespace, known: list[str]) -> list[str]:
    if args.all == bool(args.name):
        raise RunnerError("give one dataset name or --all (not both): coursekit data "
                          f"fetch NAME | --all; datasets: {', '.join(known)}")
    return known if args.all else [args.name]


def _fetch_one(data, name: str) -> str:  # noqa: ANN001 (the coursekit.data module)
    """Get one dataset as a chapter would and say where it is."""
    if data.load_manifest(name).image_shape is None:  # a table: text, numbers
        sizes = {k: len(v) for k, v in data.load_table(name).items()}
        return f"{name}: ready, rows per split {sizes}"
    return f"{name}: ready at {_show(data.fetch(name))}"


def _cmd_data(args: argparse.Namespace) -> int:
    try:
        from coursekit import data  # lazily: only these commands need it
    except ImportError as exc:
        raise RunnerError(f"the data commands need coursekit.data: {exc}") from exc
    try:
        if args.data_command == "config":
            return _data_config(args, data.settings)
        if args.data_command == "status":
            print(_data_table(data.status()))
        else:
            for name in _datasets_to_fetch(args, data.list_datasets()):
                print(_fetch_one(data, name), flush=True)
    except data.DataError as exc:
        print(f"coursekit: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _data_config(args: argparse.Namespace, settings: Any) -> int:
    """Save the settings given, then show where each one comes from."""
    changes = {"mirror": args.mirror, "data_dir": args.data_dir}
    for name in args.unset or []:
        changes[name] = ""
    for name, value in changes.items():
        if value is not None:
            path = settings.save_setting(name, value or None)
            print(f"{'removed' if not value else 'saved'} {name} in {path}")
    rows = [(name, settings.setting(name) or "-", settings.where(name))
            for name in settings.SETTINGS]
    print(_table(("setting", "value", "from"), rows))
    print(f"\nconfig file: {settings.config_path()} (an environment variable wins)")
    return 0


# ---------------------------------------------------------------- parser


def _add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", default="auto", choices=("smoke", "cpu", "gpu", "auto"),
        help=_PROFILE_HELP,
    )


def _add_executor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--executor", default="local", choices=runner.EXECUTORS,
        help="where runs execute: local (here, one after another; the default) or "
        "dask (each run a Dask task)")
    parser.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="the Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: "
        "$COURSEKIT_DASK_SCHEDULER, else a local cluster of --workers processes)")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="workers of the local Dask cluster (default 2)")


def _add_run_parsers(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="run one chapter notebook",
        description="Run one chapter notebook and save the executed copy with its "
        "outputs. Nothing runs again if the notebook, its parameters and the library "
        "are unchanged since the last run.",
        epilog="example: coursekit run A1 --profile smoke -p num_epochs=2",
    )
    run.add_argument("chapter", help="chapter id (A1, a1) or file name")
    run.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=VALUE",
        help="change one parameter of the chapter; repeat for more. VALUE is "
        "read as Python: 2, 0.1, True, \"['lenet','super_lenet']\"; anything else "
        "is text. See the parameters with: coursekit params CHAPTER",
    )
    _add_profile(run)
    run.add_argument("--force", action="store_true",
                     help="run even if nothing changed since the last run")
    run.add_argument("--output", type=Path, metavar="PATH",
                     help="also save a copy of the executed notebook here")
    run.add_argument("--into-book", action="store_true",
                     help="make this run the one the book shows for the chapter (by "
                     "default a run with other parameters never changes the book)")
    run.add_argument("--quiet", action="store_true",
                     help="do not echo the chapter's progress (epoch rows) while it runs")
    _add_writer_options(run)
    _add_executor(run)
    run.set_defaults(func=_cmd_run)

    sweep = commands.add_parser(
        "sweep", help="run a chapter once per combination of parameter values",
        description="Run a chapter once per combination of the values given with -p "
        "(each an ordinary, cached run in _build/sweeps/<ID>/), then print one table "
        "of the reproduced numbers and save it as CSV with a figure.",
        epilog="example: coursekit sweep A6 --profile smoke -p batch_size=64,128 "
        "-p seed=0,1 --executor dask",
    )
    sweep.add_argument("chapter", help="chapter id (A1, a1) or file name")
    sweep.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=V1,V2",
        help="the values of one parameter, comma-separated; a single value holds it "
        "fixed. Lists: -p seeds=[0],[1]. A text with commas as one value: "
        "-p \"variants=('lenet,super_lenet',)\"")
    _add_profile(sweep)
    sweep.add_argument("--force", action="store_true",
                       help="run every point even if nothing changed")
    sweep.add_argument("--metric", metavar="TEXT",
                       help="the metric to tabulate and plot (part of its name, e.g. "
                       "'val'); default: the first test metric")
    _add_writer_options(sweep)
    _add_executor(sweep)
    sweep.set_defaults(func=_cmd_sweep)

    build = commands.add_parser(
        "build", help="run every chapter, then build the HTML book",
        description="Run every chapter and the scoreboard's seed runs (skipping those "
        "that have not changed), then build the HTML book in _build/html. A failing chapter does not stop the "
        "others; its page shows the error. Exits with 1 if a chapter failed.",
    )
    _add_profile(build)
    build.add_argument("--force", action="store_true", help="re-run every chapter")
    build.add_argument("--no-html", action="store_true",
                       help="only run the chapters, do not build the HTML")
    build.add_argument("--no-seeds", action="store_true",
                       help="skip the scoreboard's extra seed runs (book/scoreboard.yml)")
    _add_writer_options(build)
    _add_executor(build)
    build.set_defaults(func=_cmd_build)

    runs = commands.add_parser(
        "runs", help="list, compare, prune or pin the stored runs",
        description="Every run is kept in _build/runs/<ID>/<run id>/ with its executed "
        "notebook and record; the book shows the run of its profile unless you pin "
        "another.",
        epilog="\n".join(["forms:", *(f"  {u}" for u in _RUNS_USAGE.values())]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    runs.add_argument("words", nargs="*", metavar="ACTION/RUN/CHAPTER",
                      help="list [CHAPTER] (the default), compare RUN RUN, "
                      "prune [CHAPTER], pin RUN, unpin CHAPTER")
    runs.add_argument("--yes", action="store_true",
                      help="with prune: really remove (without it, prune only lists)")
    runs.add_argument("--no-wait", action="store_true",
                      help="stop instead of waiting when another coursekit holds the book")
    runs.set_defaults(func=_cmd_runs)


def _add_writer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true",
                        help="stop instead of waiting when another coursekit command "
                        "is using the book")
    parser.add_argument("--track", action="store_true",
                        help="also record each run in MLflow (_build/mlflow; needs "
                        "pip install mlflow)")


def _add_info_parsers(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("list", help="list the chapters of the book",
                                  description="List the chapters in book order.")
    listing.set_defaults(func=_cmd_list)

    params = commands.add_parser(
        "params", help="show the parameters of a chapter",
        description="Show each parameter of a chapter: its type, its default and "
        "its value under a profile. Change one with: "
        "coursekit run CHAPTER -p KEY=VALUE",
    )
    params.add_argument("chapter", help="chapter id (A1, a1) or file name")
    _add_profile(params)
    params.set_defaults(func=_cmd_params)


def _add_data_parser(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="check or download the datasets",
                               description="Check or download the datasets.")
    data_commands = data.add_subparsers(dest="data_command", required=True,
                                        metavar="{status,fetch,config}")
    data_commands.add_parser("status", help="where each dataset was found, if at all")
    fetch = data_commands.add_parser(
        "fetch", help="get datasets and verify them",
        description="Find each dataset in the data directory, the mirror or its "
        "publisher's site (downloaded, verified and converted), as a chapter would.")
    fetch.add_argument("name", nargs="?",
                       help="dataset name, as listed by: coursekit data status")
    fetch.add_argument("--all", action="store_true", help="every dataset")
    config = data_commands.add_parser(
        "config", help="set, once, where the data and the mirror are",
        description="Save the data directory and the mirror in the user's config file, "
        "so coursekit, papermill and a plain Jupyter kernel find the data without "
        "environment variables (which still win). Without options: show the settings.")
    config.add_argument("--mirror", metavar="PATH|URL",
                        help="a folder (or http(s) URL) holding the datasets' files")
    config.add_argument("--data-dir", metavar="PATH",
                        help="where downloads and decoded caches go")
    config.add_argument("--unset", action="append", choices=("mirror", "data_dir"),
                        help="remove a saved setting")
    data.set_defaults(func=_cmd_data)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``coursekit`` command."""
    parser = argparse.ArgumentParser(
        prog="coursekit",
        description="Run, re-parameterize and build the chapters of the course book.",
        epilog="Start with: coursekit list, then coursekit run A1 --profile smoke",
    )
    parser.add_argument("--version", action="version",
                        version=f"coursekit {coursekit.__version__}")
    parser.add_argument(
        "--root", metavar="PATH",
        help="the book folder (default: $COURSEKIT_BOOK_ROOT, else the folder "
        "holding _toc.yml above the current directory)",
    )
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{list,params,run,runs,sweep,build,data}")
    _add_info_parsers(commands)
    _add_run_parsers(commands)
    _add_data_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``coursekit`` command.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).
    Returns:
        0 on success, 1 if a chapter failed, 2 for a usage or configuration error.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    args.command_line = " ".join(["coursekit", *argv])
    try:
        return args.func(args)
    except RunnerError as exc:
        print(f"coursekit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("coursekit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
