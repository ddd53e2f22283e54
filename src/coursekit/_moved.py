"""The module paths of coursekit 0.1, kept working for one release.

``coursekit.train`` became ``coursekit.training``, ``coursekit.report`` became
``coursekit.book.report``, and so on (``MOVED``). An import of an old path gets the
new module itself (the same object, so patching one patches the other; an old module
whose names went to two new ones forwards to both, ``SPLIT``) and a ``FutureWarning``
naming the new path: a warning the readers of forked notebooks see,
as Python shows a ``DeprecationWarning`` only to the code that triggers it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

__all__ = ["MOVED", "install"]

_TRAINING = ("loader", "augment", "optim", "losses", "distributed", "memory", "metrics",
             "diagnostics")
_TASKS = ("text", "corpus", "chars", "translate", "embeddings", "classic", "lm", "wordlm",
          "series", "representations", "theory", "mlp_study", "findings")

MOVED: dict[str, str] = {
    "coursekit.train": "coursekit.training",
    "coursekit.init": "coursekit.models.init",  # and coursekit.tasks.findings: SPLIT
    **{f"coursekit.{m}": f"coursekit.training.{m}" for m in _TRAINING},
    **{f"coursekit.{m}": f"coursekit.tasks.{m}" for m in _TASKS},
    **{f"coursekit.{m}": f"coursekit.book.{m}" for m in ("report", "plots", "claims")},
}
# old modules whose names went to two new ones: the old path forwards to each in turn
SPLIT: dict[str, tuple[str, ...]] = {
    "coursekit.init": ("coursekit.models.init", "coursekit.tasks.findings"),
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path of ``MOVED`` and loads the module of its new path."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec] = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        new = SPLIT.get(spec.name, (MOVED[spec.name],))
        warnings.warn(f"{spec.name} moved to {' and '.join(new)}; import it from there "
                      "(the old path goes in the next release)", FutureWarning, stacklevel=2)
        if spec.name in SPLIT:
            return _forwarding(spec.name, new)
        module = importlib.import_module(new[0])
        self._specs[spec.name] = module.__spec__  # the import system overwrites it
        return module

    def exec_module(self, module):
        module.__spec__ = self._specs.pop(module.__spec__.name, module.__spec__)


def _forwarding(name: str, targets: tuple[str, ...]) -> types.ModuleType:
    """A module whose attributes are those of ``targets``, the first that has each."""
    module = types.ModuleType(name, f"Moved: see {', '.join(targets)}.")

    def __getattr__(attribute: str):
        for target in targets:
            found = importlib.import_module(target)
            if hasattr(found, attribute):
                return getattr(found, attribute)
        raise AttributeError(f"{name} has no {attribute!r} (it moved to "
                             f"{' and '.join(targets)})")
    module.__getattr__ = __getattr__
    module.__all__ = [name for target in targets  # what `import *` takes
                      for name in getattr(importlib.import_module(target), "__all__", ())]
    return module


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())
