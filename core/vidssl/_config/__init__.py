"""Private: configs: loading with _base_ and overrides, the core keys and their validation, where
configs are found, optimizer and scheduler configs.
"""
