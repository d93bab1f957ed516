"""Errors that vidssl reports to a user as one clear message (no traceback unless ``--debug``)."""


class VidsslError(Exception):
    """Base of every error that names what is wrong and where; the CLI prints only its text."""


class ConfigError(VidsslError):
    """A config key, value or component reference is invalid."""


class PluginError(VidsslError):
    """A plugin failed to load, or two plugins claim the same component name."""


class CheckpointError(VidsslError):
    """A checkpoint is missing, truncated, corrupt, or holds something other than tensors."""


class DataError(VidsslError):
    """A dataset is missing, or a video or annotation line cannot be read."""
