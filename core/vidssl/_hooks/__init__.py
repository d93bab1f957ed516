"""Private: built-in hooks, registered on the same hook specs plugins use: metrics log, progress
display, smoke report, checkpoint saving and scheduler steps.
"""
