"""Errors that are the user's to fix: the CLI shows them as one line and exits non-zero."""


class GenbenchError(Exception):
    """A problem with the user's input or environment, worded as what to do next."""


class DivergedError(GenbenchError):
    """Training produced NaN or inf; the run is recorded as diverged instead of being scored."""


class PluginError(GenbenchError):
    """An exception raised by a third-party plugin's code, reported as that plugin's failure
    (``plugin kde (genbench-kde 0.1.0) failed in model kde: ValueError: ...``) rather than as
    genbench's own; the original exception is its ``__cause__``."""
