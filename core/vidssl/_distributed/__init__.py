"""Private: torch.distributed set-up and collectives that also work in one process, and
SyncBatchNorm conversion.
"""
