"""Errors that vidssl reports to a user as one clear message (no traceback unless ``--debug``).

Every error carries the exit code its command ends with: 2 for a user error (a config, a command
line, a missing dataset or plugin), 1 for a run failure (an unreadable checkpoint or video). Plugins
raise these (or their subclasses), never a bare ``ValueError`` or ``RuntimeError``.
"""


class VidsslError(Exception):
    """Base of every error that names what is wrong and where; the CLI prints only its text."""

    exit_code = 1


class ConfigError(VidsslError):
    """A config key, value or component reference is invalid."""

    exit_code = 2


class PluginError(VidsslError):
    """A plugin failed to load, or two plugins claim the same component name."""

    exit_code = 2


class CheckpointError(VidsslError):
    """A checkpoint is missing, truncated, corrupt, or holds something other than tensors."""


class DataError(VidsslError):
    """A video, a frame or an annotation line cannot be read."""


class DatasetNotFound(DataError):
    """A dataset root or annotation file does not exist (prepare the dataset first)."""

    exit_code = 2


class RunError(VidsslError):
    """A run cannot go on: a non-finite loss, or too many unreadable videos."""


class StopRun(Exception):
    """Raised by a hook to stop a run cleanly: the stages finished so far keep their results and
    checkpoints, the command prints ``message`` and exits 0 (1 with ``failed=True``)."""

    def __init__(self, message: str, failed: bool = False) -> None:
        super().__init__(message)
        self.failed = failed
