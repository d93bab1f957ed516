"""Helpers on (nested) batches of tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import default_collate


def map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], batch: Any) -> Any:
    """``fn`` applied to every tensor of a (nested: dicts, lists, tuples) batch."""
    if isinstance(batch, torch.Tensor):
        return fn(batch)
    if isinstance(batch, dict):
        return {k: map_tensors(fn, v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(map_tensors(fn, v) for v in batch)
    return batch


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) batch to ``device``."""
    return map_tensors(lambda t: t.to(device, non_blocking=True), batch)


def per_video(
    fn: Callable[[torch.Tensor], torch.Tensor], clip: torch.Tensor, softmax: bool = False
) -> torch.Tensor:
    """Apply ``fn`` (``N×C×T×H×W`` → ``N×D``) to a ``B×[clips×crops×]C×T×H×W`` view and average
    the outputs of each video's clips and crops (after a softmax if ``softmax``) → ``B×D``."""
    b, views = clip.shape[0], clip.shape[1:-4].numel()
    out = fn(clip.reshape(b * views, *clip.shape[-4:]))
    if softmax:
        out = out.softmax(-1)
    return out.view(b, views, -1).mean(1)


def collate_repeated(clips_per_item: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The default collation of ``items`` whose views hold ``clips_per_item`` clips each, flattened
    to ``B·N`` clips: every view ``B×N×…`` → ``(B·N)×…``, ``label`` and ``index`` repeated per clip
    (``skipped`` stays per video: it counts videos)."""

    batch = default_collate(items)
    batch["views"] = {k: v.flatten(0, 1) for k, v in batch["views"].items()}
    for key in ("label", "index"):
        batch[key] = batch[key].repeat_interleave(clips_per_item)
    return batch
