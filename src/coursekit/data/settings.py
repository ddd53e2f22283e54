"""Where coursekit finds data, set once for every way of running a notebook.

Two settings, each read from its environment variable first, then from the user's
config file (``coursekit data config`` writes it), so ``coursekit``, papermill and a
plain Jupyter kernel find the same data without any shell setup:

- ``data_dir`` (``$COURSEKIT_DATA_DIR``): downloads and decoded caches; default the
  user cache dir;
- ``mirror`` (``$COURSEKIT_DATA_MIRROR``): a folder or an http(s) URL holding the
  datasets' files; default none (then the official sources).

The file is YAML at ``$COURSEKIT_CONFIG``, else ``<user config dir>/coursekit/config.yaml``
(``~/.config/coursekit/config.yaml`` on Linux), written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
import yaml

from coursekit._atomic import write_text_atomic

from .errors import DataError

__all__ = ["SETTINGS", "config_path", "read_config", "setting", "where", "save_setting"]

SETTINGS = {"data_dir": "COURSEKIT_DATA_DIR", "mirror": "COURSEKIT_DATA_MIRROR"}


def config_path() -> Path:
    """``$COURSEKIT_CONFIG``, else ``<user config dir>/config.yaml``."""
    override = os.environ.get("COURSEKIT_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir("coursekit")) / "config.yaml"


def read_config() -> dict[str, str]:
    """The settings saved in the config file ({} when there is none).

    Raises:
        DataError: when the file exists but is not a YAML mapping.
    """
    path = config_path()
    if not path.is_file():
        return {}
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read the coursekit config {path}: {exc}. Fix or delete "
                        "it, or set the settings again with: coursekit data config") from exc
    if not isinstance(values, dict):
        raise DataError(f"{path} must hold `name: value` lines (data_dir, mirror)")
    return {str(k): str(v) for k, v in values.items() if k in SETTINGS and v}


def setting(name: str) -> str | None:
    """A setting's value: its environment variable, else the config file, else None."""
    value = os.environ.get(SETTINGS[name], "").strip()
    return value or read_config().get(name) or None


def where(name: str) -> str:
    """Where a setting's value comes from: the variable, the file, or "default"."""
    if os.environ.get(SETTINGS[name], "").strip():
        return f"${SETTINGS[name]}"
    return str(config_path()) if name in read_config() else "default"


def save_setting(name: str, value: str | None) -> Path:
    """Save (or, with None, remove) one setting in the config file; returns its path.

    A mirror must be an existing folder or an http(s) URL; a data directory must not
    be a file.

    Raises:
        DataError: for an unknown setting or a value that cannot work.
    """
    if name not in SETTINGS:
        raise DataError(f"unknown setting {name!r}; the settings are "
                        f"{', '.join(SETTINGS)}")
    if value is not None:
        value = _checked(name, value)
    values = read_config()
    if value is None:
        values.pop(name, None)
    else:
        values[name] = value
    path = config_path()
    write_text_atomic(path, yaml.safe_dump(values, sort_keys=True))
    return path


def _checked(name: str, value: str) -> str:
    if name == "mirror" and value.startswith(("http://", "https://")):
        return value
    path = Path(value).expanduser().resolve()
    if name == "mirror" and not path.is_dir():
        raise DataError(f"mirror {value}: no such folder; give a folder holding the "
                        "datasets' files (one sub-folder per dataset) or an http(s) URL")
    if name == "data_dir" and path.exists() and not path.is_dir():
        raise DataError(f"data_dir {value} is a file; give a folder (it is created "
                        "when needed)")
    return str(path)
