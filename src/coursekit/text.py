"""Text for the text chapters: the reports' cleaning pipelines, step by step.

Report C (chapter C1) cleans a review in five steps: lower case, punctuation
``/(){}[]|@,;`` to spaces, every character but ``0-9a-z #+_`` dropped, digits dropped,
stop words dropped. ``clean_steps`` returns the text after each step, so a chapter can
show the pipeline on one example; ``clean`` applies it to a whole column.

Report C used NLTK's English stop words, which need a download; we use
scikit-learn's list (318 words, NLTK's 179 among the common ones), installed with the
library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

__all__ = ["REPORT_C_STEPS", "STOP_WORDS", "clean", "clean_steps"]

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)

_TO_SPACE = re.compile(r"[/(){}\[\]|@,;]")
_NOT_KEPT = re.compile(r"[^0-9a-z #+_]")
_DIGITS = re.compile(r"[0-9]+")


def _drop_stop_words(text: str) -> str:
    return " ".join(word for word in text.split() if word not in STOP_WORDS)


REPORT_C_STEPS: list[tuple[str, Callable[[str], str]]] = [
    ("lower case", str.lower),
    ("/(){}[]|@,; to spaces", lambda t: _TO_SPACE.sub(" ", t)),
    ("keep only 0-9 a-z space # + _", lambda t: _NOT_KEPT.sub("", t)),
    ("drop digits", lambda t: _DIGITS.sub("", t)),
    ("drop stop words", _drop_stop_words),
]


def clean_steps(text: str, steps: list[tuple[str, Callable[[str], str]]] = REPORT_C_STEPS
                ) -> list[tuple[str, str]]:
    """The text before and after each step, as (step name, text) pairs.

    >>> for step, text in clean_steps("The movie is good, I loved the movie. "
    ...                               "Will audience like it?!!"):
    ...     print(f"{step:30} {text}")
    raw text                       The movie is good, I loved the movie. Will audience like it?!!
    lower case                     the movie is good, i loved the movie. will audience like it?!!
    /(){}[]|@,; to spaces          the movie is good  i loved the movie. will audience like it?!!
    keep only 0-9 a-z space # + _  the movie is good  i loved the movie will audience like it
    drop digits                    the movie is good  i loved the movie will audience like it
    drop stop words                movie good loved movie audience like
    """
    shown = [("raw text", text)]
    for name, step in steps:
        text = step(text)
        shown.append((name, text))
    return shown


def clean(texts: Iterable[str], steps: list[tuple[str, Callable[[str], str]]] = REPORT_C_STEPS
          ) -> list[str]:
    """Every text through every step (report C's pipeline by default)."""
    cleaned = []
    for text in texts:
        for _, step in steps:
            text = step(text)
        cleaned.append(text)
    return cleaned
