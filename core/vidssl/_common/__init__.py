"""Private: the lowest layer, used by every other: errors, atomic files, checkpoints, argument
schemas, batch helpers, console text, k-means.
"""
