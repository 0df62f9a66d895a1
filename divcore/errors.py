"""Errors the command line reports in one line (imported without the numerical stack)."""


class BuildError(RuntimeError):
    """A build job failed; the message names the stage and the scenario (or run)."""
