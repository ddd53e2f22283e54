"""The reports' claims, checked against a run's results.

Every experiment of ``reported.yaml`` lists what its report *concludes* under
``claims:``: the report's words (``says``), where it says them (``where``) and a
machine-checkable form (``check``). A chapter hands its results to :func:`evaluate`
and shows the rows: the claim, what we measured and one of four verdicts.

Results of one experiment are a mapping ``results[variant][metric] -> value`` (a
DataFrame indexed by variant works too). The kinds of check:

========  ==========================================  =================================
kind      fields                                      holds when
========  ==========================================  =================================
greater   a, b, metric, margin=0                      r[a] > r[b] + margin
less      a, b, metric, margin=0                      r[a] < r[b] - margin
order     variants, metric, descending=true           strictly decreasing (increasing)
best      variant, metric, among=all, lower_is_better above (below) every rival
at_least  variant (one or a list), metric, value      every r[v] >= value
at_most   variant (one or a list), metric, value      every r[v] <= value
near      variant (one or a list), metric, value, tol every abs(r[v] - value) <= tol
equals    variant, metric, value                      r[v] == value
========  ==========================================  =================================

``greater``, ``less`` and ``best`` also take ``margin_pct``: the lead must exceed that
share of the rival's value (``less``: r[a] < r[b] * (1 - margin_pct / 100)). Timing
claims use it: two networks whose steps cost the same still differ by a per cent or
two when timed in turns (``training.step_times``), and that is not a lead.

A claim whose variant or metric the run did not produce is *not tested* (a profile
that leaves a variant out, or a scale the chapter declares out of reach). A claim the
report contradicts itself on (``contradicted:`` names the two places) is evaluated and
shown, but its verdict is *contradicted by the report* and it counts in no share.
A claim may also name what a run must show before the claim means anything
(``requires:``, a check of the same kinds, e.g. that a network learned at all before
its train-validation gap is compared): when the run falls short of it, the claim is
*not tested* and its note says why.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from coursekit.book import number_format

__all__ = ["CHECKS", "CONTRADICTED", "FAILS", "HOLDS", "UNTESTED", "VERDICTS", "Claim",
           "Outcome", "claims", "describe", "evaluate", "results_mapping", "run_check",
           "notes_once", "share", "style_claims", "tally", "validate"]

HOLDS = "holds"
FAILS = "does not hold"
UNTESTED = "not tested at this profile"
CONTRADICTED = "contradicted by the report"
VERDICTS = (HOLDS, FAILS, UNTESTED, CONTRADICTED)

Results = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Claim:
    """One conclusion of a report, as ``reported.yaml`` lists it."""

    experiment: str
    id: str
    says: str
    where: str
    check: Mapping[str, Any]
    measure: str = ""        # how a derived quantity of the check is computed
    contradicted: str = ""   # the two places of the report that disagree
    requires: Mapping[str, Any] | None = None  # a check the run must pass first


@dataclass(frozen=True)
class Outcome:
    """What one check found: ``holds`` is None when the run lacks a value it needs."""

    holds: bool | None
    measured: str
    missing: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------- reading values


class _Missing(Exception):
    """A value the check needs is not in the results."""


def results_mapping(results: Results | pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``results[variant][metric]`` as plain dicts keyed by str, from a mapping or a
    DataFrame indexed by variant."""
    if isinstance(results, pd.DataFrame):
        results = results.to_dict(orient="index")
    return {str(k): dict(v) for k, v in results.items()}


def _value(results: Results, variant: str, metric: str) -> Any:
    row = results.get(str(variant))
    value = None if row is None else row.get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise _Missing(f"{variant}.{metric}")
    return value


def _pairs(variants: Sequence[Any], values: Sequence[Any]) -> str:
    """What a check compared, for its row: "name: value" pairs joined by semicolons
    (variant names such as "sigmoid, depth 9" hold commas of their own).

    >>> _pairs(["sigmoid, depth 9", "relu"], [17.344, 0.0029])
    'sigmoid, depth 9: 17.34; relu: 0.0029'
    """
    return "; ".join(f"{v}: {number_format.short(x)}" for v, x in zip(variants, values))


def _list(variant: str | Sequence[str]) -> list[str]:
    return [variant] if isinstance(variant, (str, int)) else list(variant)


# ---------------------------------------------------------------- the checks


def _lead(rival: float, c: Mapping) -> float:
    """How far past ``rival`` a value must be: ``margin`` plus ``margin_pct`` of it."""
    return c.get("margin", 0) + abs(rival) * c.get("margin_pct", 0) / 100


def _greater(r: Results, c: Mapping) -> Outcome:
    a, b = _value(r, c["a"], c["metric"]), _value(r, c["b"], c["metric"])
    return Outcome(a > b + _lead(b, c), _pairs([c["a"], c["b"]], [a, b]))


def _less(r: Results, c: Mapping) -> Outcome:
    a, b = _value(r, c["a"], c["metric"]), _value(r, c["b"], c["metric"])
    return Outcome(a < b - _lead(b, c), _pairs([c["a"], c["b"]], [a, b]))


def _order(r: Results, c: Mapping) -> Outcome:
    values = [_value(r, v, c["metric"]) for v in c["variants"]]
    pairs = list(zip(values, values[1:]))
    ok = all(x > y for x, y in pairs) if c.get("descending", True) else \
        all(x < y for x, y in pairs)
    return Outcome(ok, _pairs(c["variants"], values))


def _best(r: Results, c: Mapping) -> Outcome:
    """The variant beats every rival outright; a tie (say, two networks at chance) does
    not make it the best."""
    metric, name = c["metric"], str(c["variant"])
    among = [str(v) for v in c.get("among") or
             [k for k, row in r.items() if row.get(metric) is not None]]
    rivals = [v for v in among if v != name]
    if not rivals:  # best of one: a run that trained no rival (e.g. a seed run)
        raise _Missing(f"any other variant.{metric}")
    ours = _value(r, name, metric)
    values = {v: _value(r, v, metric) for v in rivals}
    lower = c.get("lower_is_better", False)
    rival = (min if lower else max)(values, key=values.get)
    lead = _lead(values[rival], c)
    ok = ours < values[rival] - lead if lower else ours > values[rival] + lead
    if ok and not lead:  # an outright best needs no rival beside it; a lead does
        return Outcome(ok, _pairs([name], [ours]))
    return Outcome(ok, _pairs([name, rival], [ours, values[rival]]))


def _bound(compare: Callable[[Any], bool]) -> Callable[[Results, Mapping], Outcome]:
    def check(r: Results, c: Mapping) -> Outcome:
        variants = _list(c["variant"])
        values = [_value(r, v, c["metric"]) for v in variants]
        shown = (_pairs(variants, values) if len(variants) > 1
                 else number_format.short(values[0]))
        return Outcome(all(compare(x, c) for x in values), shown)
    return check


CHECKS: dict[str, tuple[tuple[str, ...], Callable[[Results, Mapping], Outcome]]] = {
    # kind -> (required fields, check)
    "greater": (("a", "b", "metric"), _greater),
    "less": (("a", "b", "metric"), _less),
    "order": (("variants", "metric"), _order),
    "best": (("variant", "metric"), _best),
    "at_least": (("variant", "metric", "value"), _bound(lambda x, c: x >= c["value"])),
    "at_most": (("variant", "metric", "value"), _bound(lambda x, c: x <= c["value"])),
    "near": (("variant", "metric", "value", "tol"),
             _bound(lambda x, c: abs(x - c["value"]) <= c["tol"])),
    "equals": (("variant", "metric", "value"), _bound(lambda x, c: x == c["value"])),
}


def validate(check: Mapping[str, Any], where: str = "check") -> None:
    """Raise ``ValueError`` naming what is wrong with a check (kind, missing fields)."""
    kind = check.get("kind") if isinstance(check, Mapping) else None
    if kind not in CHECKS:
        raise ValueError(f"{where}: unknown check kind {kind!r}; "
                         f"choose one of {', '.join(CHECKS)}")
    missing = [f for f in CHECKS[kind][0] if f not in check]
    if missing:
        raise ValueError(f"{where}: a {kind!r} check needs {', '.join(missing)}")
    if kind == "order" and len(check["variants"]) < 2:
        raise ValueError(f"{where}: an 'order' check needs two variants or more")
    if "margin_pct" in check:
        pct = check["margin_pct"]
        if "margin" in check:
            raise ValueError(f"{where}: give a lead as margin (in the metric's units) or "
                             f"as margin_pct (a per cent of the rival), not both")
        if kind not in ("greater", "less", "best"):
            raise ValueError(f"{where}: margin_pct applies to greater, less and best "
                             f"checks, not {kind!r}")
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct < 100:
            raise ValueError(f"{where}: margin_pct is a per cent from 0 to below 100, "
                             f"got {pct!r}")


def run_check(check: Mapping[str, Any], results: Results | pd.DataFrame) -> Outcome:
    """Evaluate one check on one experiment's results.

    Example:
        >>> run_check({"kind": "greater", "a": "bn", "b": "plain", "metric": "acc"},
        ...           {"bn": {"acc": 61.0}, "plain": {"acc": 59.5}}).holds
        True
    """
    validate(check)
    try:
        return CHECKS[check["kind"]][1](results_mapping(results), check)
    except _Missing as missing:
        variant, _, metric = missing.args[0].rpartition(".")
        return Outcome(None, f"{metric} of {variant} not measured in this run",
                       (missing.args[0],))


def describe(check: Mapping[str, Any]) -> str:
    """The check in a few words, e.g. ``test_acc: lenet_bn > lenet``.

    Example:
        >>> describe({"kind": "order", "variants": ["a", "b", "c"], "metric": "acc"})
        'acc: a > b > c'
    """
    kind, metric = check["kind"], check.get("metric", "")
    lead = (number_format.short(check["margin"]) if check.get("margin") else
            f"{number_format.short(check['margin_pct'])} %" if check.get("margin_pct") else "")
    margin = f" by more than {lead}" if lead else ""
    if kind in ("greater", "less"):
        sign = ">" if kind == "greater" else "<"
        return f"{metric}: {check['a']} {sign} {check['b']}{margin}"
    if kind == "order":
        sign = " > " if check.get("descending", True) else " < "
        return f"{metric}: {sign.join(map(str, check['variants']))}"
    if kind == "best":
        word = "lowest" if check.get("lower_is_better") else "highest"
        among = f" among {', '.join(map(str, check['among']))}" if check.get("among") else ""
        return f"{metric}: {check['variant']} {word}{among}{margin}"
    who = ", ".join(map(str, _list(check["variant"])))
    value = number_format.short(check["value"])
    sign = {"at_least": f">= {value}", "at_most": f"<= {value}", "equals": f"= {value}",
            "near": f"= {value} ± {number_format.short(check.get('tol', 0))}"}[kind]
    return f"{metric} of {who} {sign}"


# ---------------------------------------------------------------- claims of an experiment


def claims(experiment_id: str) -> list[Claim]:
    """The claims ``reported.yaml`` lists for one experiment, each check validated.

    Raises:
        KeyError: for an unknown experiment id.
        ValueError: for a claim without ``id``/``says``/``where`` or with a bad check.
    """
    from coursekit.book.report import experiment
    found, seen = [], set()
    for i, raw in enumerate(experiment(experiment_id).get("claims", []), 1):
        where = f"reported.yaml, {experiment_id} claim {i}"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: a claim is a mapping with id, says, where, check")
        missing = [k for k in ("id", "says", "where", "check") if k not in raw]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        if raw["id"] in seen:
            raise ValueError(f"{where}: id {raw['id']!r} is used twice")
        seen.add(raw["id"])
        validate(raw["check"], f"{where} ({raw['id']})")
        if "requires" in raw:
            validate(raw["requires"], f"{where} ({raw['id']}, requires)")
        found.append(Claim(experiment_id, str(raw["id"]), str(raw["says"]),
                           str(raw["where"]), dict(raw["check"]),
                           str(raw.get("measure", "")), str(raw.get("contradicted", "")),
                           dict(raw["requires"]) if "requires" in raw else None))
    return found


def _verdict(claim: Claim, outcome: Outcome, untested: Mapping[str, str]) -> str:
    if claim.contradicted:
        return CONTRADICTED
    if claim.id in untested or outcome.holds is None:
        return UNTESTED
    return HOLDS if outcome.holds else FAILS


def evaluate(experiment_id: str, results: Results | pd.DataFrame, *, profile: str,
             untested: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Check every claim of an experiment against one run's results.

    Args:
        experiment_id: key in ``reported.yaml``.
        results: ``results[variant][metric]`` of the run (or a DataFrame by variant).
        profile: the profile that produced the results.
        untested: claim id -> why this profile cannot test it (the scale it needs);
            such claims are "not tested" whatever the run measured.
    Returns:
        One row per claim: experiment, claim (id), the report says, where, check,
        we measured, verdict, note (the report's contradiction, the reason a claim is
        not tested, or how a derived quantity is measured), profile.
    """
    untested = dict(untested or {})
    rows = []
    for claim in claims(experiment_id):
        outcome = run_check(claim.check, results)
        if claim.requires and claim.id not in untested:
            before = run_check(claim.requires, results)
            if before.holds is False:
                untested[claim.id] = (f"the claim needs {describe(claim.requires)} first, "
                                      f"and this run measured {before.measured}")
        verdict = _verdict(claim, outcome, untested)
        measured = outcome.measured
        if verdict == CONTRADICTED and outcome.holds is not None:
            measured += f" (would {'hold' if outcome.holds else 'not hold'})"
        note = (claim.contradicted if verdict == CONTRADICTED else
                untested.get(claim.id, "") or claim.measure)
        rows.append({"experiment": experiment_id, "claim": claim.id,
                     "the report says": claim.says, "where": claim.where,
                     "check": describe(claim.check), "we measured": measured,
                     "verdict": verdict, "note": note, "profile": profile})
    return pd.DataFrame(rows, columns=["experiment", "claim", "the report says", "where",
                                       "check", "we measured", "verdict", "note",
                                       "profile"])


def tally(rows: pd.DataFrame | Sequence[Mapping]) -> dict[str, int]:
    """How many claims got each verdict, every verdict present (zeros included).

    Example:
        >>> tally([{"verdict": "holds"}, {"verdict": "holds"},
        ...        {"verdict": "does not hold"}])["holds"]
        2
    """
    verdicts = list(rows["verdict"]) if isinstance(rows, pd.DataFrame) else \
        [r.get("verdict") for r in rows]
    unknown = set(verdicts) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}; expected {VERDICTS}")
    return {v: verdicts.count(v) for v in VERDICTS}


def share(counts: Mapping[str, int]) -> tuple[int, int]:
    """(claims that hold, claims counted) from :func:`tally`'s counts: claims not
    tested count against the share, claims the report contradicts are left out.

    Example:
        >>> share({HOLDS: 3, FAILS: 1, UNTESTED: 1, CONTRADICTED: 2})
        (3, 5)
    """
    return counts[HOLDS], counts[HOLDS] + counts[FAILS] + counts[UNTESTED]


_VERDICT_STYLE = {HOLDS: "color: #1b5e20", FAILS: "color: #b00020; font-weight: bold",
                  UNTESTED: "color: #6d4c00", CONTRADICTED: "color: #4a148c"}


SAME_NOTE = "as above"  # a note shared by several claims of one table is written once


def _html_cell(value: Any) -> Any:
    """A text cell for the page: HTML-escaped (claims quote model output such as
    "<unk>"), then Markdown's `code` as <code> (notes name parameters and commands).

    >>> _html_cell("run `--profile gpu` (<unk>)")
    'run <code>--profile gpu</code> (&lt;unk&gt;)'
    """
    if not isinstance(value, str):
        return value
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(value))


def notes_once(notes: pd.Series) -> pd.Series:
    """A note that repeats the nearest note above it becomes :data:`SAME_NOTE`; a
    repeat with another note between is written out again, since "as above" would
    point at that one (E3's measures once read "as above" under another claim's reason
    for not being tested).

    Example:
        >>> list(notes_once(pd.Series(["needs a GPU", "", "needs a GPU", "a", "needs a GPU"])))
        ['needs a GPU', '', 'as above', 'a', 'needs a GPU']
    """
    nearest_above = notes.where(notes.astype(bool)).ffill().shift()
    return notes.where(~notes.astype(bool) | (notes != nearest_above), SAME_NOTE)


def style_claims(table: pd.DataFrame):
    """A pandas Styler of :func:`evaluate`'s rows for a chapter page, its HTML table of
    class ``coursekit-claims`` (the book's stylesheet gives the notes room); a note
    shared by neighbouring claims (one reason several cannot be tested, one measure) is
    written at the first of them and "as above" at the others."""
    shown = table.drop(columns=[c for c in ("claim", "profile") if c in table])
    if "experiment" in shown and shown["experiment"].nunique() <= 1:
        shown = shown.drop(columns="experiment")
    if "note" in shown and not shown["note"].astype(bool).any():
        shown = shown.drop(columns="note")
    elif "note" in shown:
        shown = shown.assign(note=notes_once(shown["note"]))
    shown = shown.reset_index(drop=True)
    # a class per text column, for the stylesheet's widths: "the report says" -> says
    classes = pd.DataFrame({c: c.split()[-1] for c in shown}, index=shown.index)
    return (shown.style.hide(axis="index")
            .set_table_attributes('class="coursekit-claims"').set_td_classes(classes)
            .format(_html_cell)
            .map(lambda v: _VERDICT_STYLE.get(v, ""), subset=["verdict"]))
