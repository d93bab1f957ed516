"""torch.distributed set-up and collectives; every function also works in a single process.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the process group is created with nccl
when CUDA is available and gloo otherwise; each rank uses ``cuda:LOCAL_RANK`` or the CPU.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

from vidssl._common.errors import ConfigError


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def world_size_from_env() -> int:
    """The number of processes torchrun launched (1 outside torchrun), before any set-up."""
    return int(os.environ.get("WORLD_SIZE", 1))


def setup(device: str = "auto", backend: str | None = None) -> torch.device:
    """Initialise the process group if launched by torchrun; return this process's device."""
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ConfigError(
            "device='cuda' was asked for but CUDA is not available (set device='auto' or 'cpu')"
        )
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(local_rank)
        # torchrun's store outlives a restart of the group (--max-restarts): the keys of each
        # attempt (e.g. gloo's peer addresses) go under its own prefix, the attempt counted per
        # rank in the store itself, so every rank of an attempt agrees on it
        store, rank_, size = next(dist.rendezvous("env://"))
        attempt = store.add(f"vidssl/attempts/rank{rank_}", 1)
        dist.init_process_group(
            backend or ("nccl" if use_cuda else "gloo"),
            rank=rank_,
            store=dist.PrefixStore(f"vidssl/attempt{attempt}", store),
            world_size=size,
        )
    return torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` (same shape on every rank) along dim 0 across ranks, no gradient."""
    if world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Like :func:`all_gather`, but the local slice keeps its gradient (the other ranks' slices
    are constants), as the seeds' distributed contrastive losses do."""
    if world_size() == 1:
        return tensor
    parts = list(all_gather(tensor.detach()).chunk(world_size()))
    parts[rank()] = tensor
    return torch.cat(parts)


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    if world_size() == 1:
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shuffle_batch(tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """This rank's share of a random permutation of the global batch (the rows of every rank's
    ``tensor``, ``b×…`` each), and the permutation for :func:`unshuffle_batch`; ShuffleBN's first
    half (a key encoder's BatchNorm then sees rows from every rank). Identity in one process."""
    if world_size() == 1:
        return tensor, None
    everything = all_gather(tensor)
    permutation = torch.randperm(len(everything), device=tensor.device)
    dist.broadcast(permutation, src=0)
    b = tensor.shape[0]
    return everything[permutation[rank() * b : (rank() + 1) * b]], permutation


def unshuffle_batch(tensor: torch.Tensor, permutation: torch.Tensor | None) -> torch.Tensor:
    """Undo :func:`shuffle_batch` on its output's results (``b×…`` per rank): this rank's own rows
    back, in their original order. No gradient (ShuffleBN serves a momentum encoder)."""
    if permutation is None:
        return tensor
    everything = all_gather(tensor)[torch.argsort(permutation)]
    b = tensor.shape[0]
    return everything[rank() * b : (rank() + 1) * b]
