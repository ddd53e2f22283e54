"""The "Did you mean ...?" hint shared by every unknown-name error."""

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest known name, or ``""`` when none is close.

    Example:
        >>> did_you_mean("lenet_nb", ["lenet", "lenet_bn"])
        " Did you mean 'lenet_bn'?"
    """
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
