"""The function process's environment in the image: logging level and matplotlib's cache.

fdk, when imported, sets the root logger to DEBUG and adds its own stderr handler, so a later
`logging.basicConfig(level=INFO)` does nothing and every library's DEBUG lines (urllib3, the
oci SDK, matplotlib, git) reach the function's log. `configure_logging` undoes that: at
`NL_LOG_LEVEL` INFO (the default) the one JSON line per invocation, printed bare, is what the
function logs, with warnings and errors from anywhere; DEBUG turns everything on.

The image runs as uid 1000 with only /tmp writable; matplotlib (imported by ADS on the create
path) then falls back to a fresh temporary config folder per process and rebuilds its font
cache on every cold start. `configure_matplotlib` points MPLCONFIGDIR at one folder in the
temporary directory instead, so a warm /tmp keeps the cache.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import MutableMapping

LOG_LEVEL_KEY = "NL_LOG_LEVEL"
DEFAULT_LOG_LEVEL = "INFO"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
INVOCATION_LOGGER = "notebook_launcher.invocation"
MPLCONFIGDIR_NAME = "notebook-launcher-matplotlib"


def log_level(environ: MutableMapping[str, str]) -> int:
    """The configured level; an unknown value falls back to INFO (and is reported once)."""
    name = environ.get(LOG_LEVEL_KEY, "").strip().upper() or DEFAULT_LOG_LEVEL
    if name not in LOG_LEVELS:
        logging.getLogger(__name__).warning(
            "%s=%r is not one of %s; using %s",
            LOG_LEVEL_KEY,
            name,
            ", ".join(LOG_LEVELS),
            DEFAULT_LOG_LEVEL,
        )
        name = DEFAULT_LOG_LEVEL
    return int(logging.getLevelName(name))


class _InvocationLineFormatter(logging.Formatter):
    """The invocation record as its bare JSON message; every other record as before."""

    def __init__(self, fallback: logging.Formatter | None) -> None:
        super().__init__()
        self.fallback = fallback or logging.Formatter("%(name)s %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.name == INVOCATION_LOGGER:
            return record.getMessage()
        return self.fallback.format(record)


def configure_logging(environ: MutableMapping[str, str]) -> None:
    """The invocation line at the configured level, everything else at WARNING (or DEBUG).

    INFO (the default): the one JSON line per invocation, and warnings and errors from any
    logger. DEBUG: everything, libraries included. WARNING or ERROR: no invocation line.
    """
    level = log_level(environ)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if level == logging.DEBUG else max(level, logging.WARNING))
    logging.getLogger(INVOCATION_LOGGER).setLevel(level)
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        if not isinstance(handler.formatter, _InvocationLineFormatter):
            handler.setFormatter(_InvocationLineFormatter(handler.formatter))


def _writable_dir(path: str | None) -> bool:
    return bool(path) and os.path.isdir(str(path)) and os.access(str(path), os.W_OK | os.X_OK)


def configure_matplotlib(environ: MutableMapping[str, str]) -> None:
    """MPLCONFIGDIR under the temporary directory when HOME cannot hold matplotlib's cache."""
    if environ.get("MPLCONFIGDIR") or _writable_dir(environ.get("HOME")):
        return
    folder = os.path.join(tempfile.gettempdir(), MPLCONFIGDIR_NAME)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    environ["MPLCONFIGDIR"] = folder
