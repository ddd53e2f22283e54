"""Write a file so that readers see the old one or the new one, never half of either."""

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic", "write_text_atomic"]


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a fresh temporary file beside ``path``, then rename it to
    ``path``; on any error the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:  # a fresh file with the usual permissions
            write(f)
        os.replace(tmp, path)  # atomic: readers see the old file or the new one
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_atomic` for UTF-8 text, creating the parent folder if needed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))
