"""How the book writes a number: one module, so a chapter's tables, its claims and the
scoreboard agree (B4's mean squared errors of 0.0009 once read "0.00" on the scoreboard
while the chapter page said "0.00091").

Two styles, for two places:

- ``cell``, for table columns: a fixed number of decimals so a column lines up (2;
  none for large whole numbers such as parameter counts; 2 significant digits below 0.1,
  where 2 decimals would show 0.00; scientific notation below 0.0001, as in ``short``). ``difference`` writes the signed gap between two of
  them, without decimals when both were whole counts.
- ``short``, for numbers inside a sentence (a claim's "we measured"): the shortest
  form, trailing zeros dropped ("76.3", "5", "0.00091"), and below 0.0001 in
  scientific notation ("3.2e-15" rather than fifteen zeros).

Standard library only: the runner (which writes the scoreboard) imports it without
pandas or torch.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["cell", "comparison", "difference", "is_count", "short"]


def cell(value: Any, sign: bool = False) -> str:
    """A number for a table cell, written out in decimals down to 0.0001 and in
    scientific notation below (as ``short`` writes it in a sentence, so a table and a
    claim show one number alike).

    >>> [cell(v) for v in (81.137, 49338.0, 0.0035, 0.00012, 2.9e-07, 0.0, None)]
    ['81.14', '49,338', '0.0035', '0.00012', '2.9e-07', '0.00', 'n/a']
    >>> cell(-0.00042, sign=True), cell(2.5, sign=True)
    ('-0.00042', '+2.50')
    """
    if _missing(value):
        return "n/a"
    value = float(value)
    if 0 < abs(value) < 1e-4:
        return f"{value:{'+' if sign else ''}.2g}"
    if 0 < abs(value) < 0.1:  # the decimals that keep 2 significant digits
        digits = 1 - math.floor(math.log10(abs(value)))
    else:
        digits = 0 if value.is_integer() and abs(value) >= 1000 else 2
    return f"{value:{'+' if sign else ''},.{digits}f}"


def difference(value: Any, whole: bool = False) -> str:
    """A signed difference for a table cell. ``whole``: the two numbers compared were
    counts, so is their difference (no decimals, and 0 when they agree). One that is
    rounding error (below 1e-6) is written without a sign.

    >>> difference(-1.1e-08), difference(-0.04), difference(2.5), difference(None)
    ('0.00', '-0.040', '+2.50', 'n/a')
    >>> difference(0.0, whole=True), difference(324.0, whole=True)
    ('0', '+324')
    """
    if _missing(value):
        return "n/a"
    if abs(value) < 1e-6:
        return "0" if whole else "0.00"
    return f"{value:+,.0f}" if whole else cell(value, sign=True)


def is_count(*values: Any) -> bool:
    """Whether the values read as counts (parameters, word pairs): whole numbers, the
    largest at least 1,000, as ``cell`` writes without decimals. Their difference is a
    count too; a whole accuracy such as 60.0 % is not one.

    >>> is_count(62006.0, 62006), is_count(10599.0, 999.0), is_count(60.0, 51.0)
    (True, True, False)
    >>> is_count(62006.0, 81.5), is_count(None, 3000.0)
    (False, False)
    """
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        return False
    return all(v.is_integer() for v in floats) and max(map(abs, floats)) >= 1000


def comparison(reported: Any, reproduced: Any, diff: Any) -> tuple[str, str, str]:
    """One reported-vs-reproduced row's three cells, as the chapter pages and the
    scoreboard both write them: counts (``is_count``) whole on all three, anything else
    by ``cell`` and ``difference``.

    >>> comparison(10599.0, 999.0, -9600.0), comparison(81.5, 80.0, -1.5)
    (('10,599', '999', '-9,600'), ('81.50', '80.00', '-1.50'))
    >>> comparison(62006.0, 62006.0, 0.0), comparison(0.0035, None, None)
    (('62,006', '62,006', '0'), ('0.0035', 'n/a', 'n/a'))
    """
    if is_count(reported, reproduced):
        return f"{float(reported):,.0f}", f"{float(reproduced):,.0f}", difference(diff, True)
    return cell(reported), cell(reproduced), difference(diff)


def short(value: Any) -> str:
    """A number inside a sentence: 2 decimals at most, trailing zeros dropped, 2
    significant digits below 0.1 as in ``cell``, in scientific notation below 0.0001
    (a rounding error of 3.2e-15 would take fifteen zeros); anything that is not a
    number as ``str``.

    >>> [short(v) for v in (76.3, 17.344, 5, 62006.0, 0.0402, 0.012, 0.00091, 0.0001)]
    ['76.3', '17.34', '5', '62,006', '0.04', '0.012', '0.00091', '0.0001']
    >>> short(1.2e-05), short(3.2e-15), short(-5.6e-17)
    ('1.2e-05', '3.2e-15', '-5.6e-17')
    >>> short(True), short("negative"), short(float("nan"))
    ('True', 'negative', 'nan')
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return str(value)
    if float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) < 1e-4:
        return f"{value:.2g}"
    digits = 2
    if abs(value) < 0.1:  # the decimals that keep 2 significant digits
        digits = 1 - math.floor(math.log10(abs(value)))
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _missing(value: Any) -> bool:
    """None or NaN (of any float type, NumPy's float32 included)."""
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return False
