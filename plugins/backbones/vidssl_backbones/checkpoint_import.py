"""Loading backbone weights saved by torchvision and by the seed repositories.

Each *format* is a list of key-renaming rules (regular expressions, each applied to the result
of the previous one) plus the key
prefixes that belong to heads or to method modules, not to the backbone:

============  ===================================================================  ==========
format         source                                                               backbone
============  ===================================================================  ==========
torchvision    torchvision ``r3d_18`` / ``r2plus1d_18`` state dicts                 r3d / r2plus1d (variant "torchvision")
kenshohara     3D-ResNets-PyTorch (seed 000 fine-tuning), LA's ``model_state_dict``  r3d
               (seed 000), VTDL's ``r3d`` (seed 002), MLFO's ``r3d`` (seed 003)
vmz            seed 001 ``models/r2plus1d.py``                                      r2plus1d (variant "vmz")
irhum          VTDL's ``model/r2p1d.py`` (seed 002)                                 r2plus1d (variant "irhum")
i3d_nl         seed 001 ``models/i3d_nl.py``                                        i3d_resnet
vtdl_i3d       VTDL's ``model/i3d.py`` (seed 002)                                   i3d
c3d            VTDL's ``model/c3d.py`` (seed 002)                                   c3d
vidssl         a vidssl ``stage_<name>.pt`` (its ``backbone`` entry)                 any
============  ===================================================================  ==========

Checkpoint containers are unwrapped (``state_dict``, ``model_state_dict``, ``model``,
``backbone``) and DataParallel/DDP prefixes (``module.``) stripped. A load never succeeds silently
with a mismatch: missing, unexpected or mis-shaped keys raise an error listing them.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from vidssl import CheckpointError, checkpoint, distributed


@dataclass(frozen=True)
class Format:
    """Key-renaming rules (pattern, replacement), applied in order, and the source key prefixes
    that belong to heads or method modules."""

    rules: list[tuple[str, str]]
    ignored: tuple[str, ...] = ()


_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)$"
_TORCHVISION_BLOCK = [(rf"^(layer\d\.\d+)\.conv(\d)\.1\.{_BN}", r"\1.bn\2.\3"),
                      (r"^(layer\d\.\d+)\.conv(\d)\.0\.", r"\1.conv\2."),
                      (r"\.downsample\.0\.", ".downsample.conv."), (r"\.downsample\.1\.", ".downsample.bn.")]
_KENSHOHARA = [(r"^conv1\.", "stem.0."), (r"^bn1\.", "stem.1."),
               (r"\.downsample\.0\.", ".downsample.conv."), (r"\.downsample\.1\.", ".downsample.bn.")]
_VMZ = [(r"^conv1_middle\.", "stem.0."), (r"^bn1_middle\.", "stem.1."), (r"^conv1\.", "stem.3."),
        (r"^bn1\.", "stem.4."), (r"\.block\.conv(\d)_middle\.", r".conv\1.0."),
        (r"\.block\.bn(\d)_middle\.", r".conv\1.1."), (r"\.block\.conv(\d)\.", r".conv\1.3."),
        (r"\.block\.bn(\d)\.", r".bn\1."), (r"\.block\.shortcut_bn\.", ".downsample.bn."),
        (r"\.block\.shortcut\.", ".downsample.conv.")]
_IRHUM = [(r"^conv1\.spatial_conv\.", "stem.0.0."), (r"^conv1\.bn\.", "stem.0.1."),
          (r"^conv1\.temporal_conv\.", "stem.0.3."), (r"^bn1\.", "stem.1."),
          (r"^conv(\d)\.block1\.", lambda m: f"layer{int(m[1]) - 1}.0."),
          (r"^conv(\d)\.blocks\.(\d+)\.", lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) + 1}."),
          (r"\.downsampleconv\.", ".downsample.conv."), (r"\.downsamplebn\.", ".downsample.bn."),
          (r"\.(conv\d|downsample\.conv)\.spatial_conv\.", r".\1.0."),
          (r"\.(conv\d|downsample\.conv)\.bn\.", r".\1.1."),
          (r"\.(conv\d|downsample\.conv)\.temporal_conv\.", r".\1.3.")]
_I3D_NL = [(r"^conv1\.", "stem.0."), (r"^bn1\.", "stem.1."), (r"\.conv_sc\.", ".downsample.conv."),
           (r"\.bn_sc\.", ".downsample.bn.")]

FORMATS: dict[str, Format] = {
    "vidssl": Format([]),
    "torchvision": Format(_TORCHVISION_BLOCK, ("fc.",)),
    "kenshohara": Format(_KENSHOHARA, ("fc.", "melow.", "memid.", "id_head.", "cls_head.",
                                       "feature_head.")),
    "vmz": Format(_VMZ, ("fc.",)),
    "irhum": Format(_IRHUM, ("linear.", "id_head.", "cls_head.", "feature_head.")),
    "i3d_nl": Format(_I3D_NL, ("fc.",)),
    "vtdl_i3d": Format([], ("id_head.", "cls_head.", "feature_head.", "conv3d_0c_1x1_custom.",
                            "motion_enhance_module.")),
    "c3d": Format([], ("linear.",)),
}
_CONTAINERS = ("state_dict", "model_state_dict", "model", "backbone")
_PREFIXES = ("module.", "backbone.", "encoder.")


@dataclass
class ImportReport:
    """What a conversion did: keys loaded, and source keys left out as head/method modules."""

    loaded: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def unwrap(state: dict) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint, without DataParallel/DDP/wrapper prefixes."""
    while not all(isinstance(v, torch.Tensor) for v in state.values()):
        inner = next((state[k] for k in _CONTAINERS if isinstance(state.get(k), dict)), None)
        if inner is None:
            raise CheckpointError(f"no state dict found in checkpoint (keys: {', '.join(sorted(state))})")
        state = inner
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def convert(state: dict[str, torch.Tensor], fmt: str) -> tuple[dict[str, torch.Tensor], ImportReport]:
    """Rename the keys of a source state dict to vidssl's layout; drop head/method keys."""
    if fmt not in FORMATS:
        raise CheckpointError(f"unknown checkpoint format '{fmt}' (formats: {', '.join(FORMATS)})")
    spec, out, report = FORMATS[fmt], {}, ImportReport()
    for key, value in unwrap(state).items():
        if key.startswith(spec.ignored):
            report.ignored.append(key)
            continue
        new = key
        for pattern, replacement in spec.rules:
            new = re.sub(pattern, replacement, new)
        out[new] = value
        report.loaded.append(key)
    return out, report


def load_into(backbone: nn.Module, source: str | Path | dict, fmt: str = "vidssl") -> ImportReport:
    """Load ``source`` (a path or a state dict) of format ``fmt`` into ``backbone``, strictly.

    Raises :class:`CheckpointError` listing missing, unexpected and mis-shaped keys (after
    renaming, with their source names) instead of loading anything partially. Prints (rank 0)
    how many tensors were loaded and which source keys were left out as heads.
    """
    where = str(source) if isinstance(source, (str, Path)) else "state dict"
    state = checkpoint.load(source) if isinstance(source, (str, Path)) else source
    if fmt == "vidssl" and not all(isinstance(v, torch.Tensor) for v in state.values()):
        state = checkpoint.backbone_state(state, where)
    converted, report = convert(state, fmt)
    own = backbone.state_dict()
    missing = sorted(set(own) - set(converted))
    unexpected = sorted(set(converted) - set(own))
    shapes = sorted(f"{k} {tuple(converted[k].shape)} vs {tuple(own[k].shape)}"
                    for k in set(own) & set(converted) if converted[k].shape != own[k].shape)
    if missing or unexpected or shapes:
        parts = [f"{label} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected),
                                     ("shape mismatch", shapes)) if keys]
        raise CheckpointError(f"{where} does not match the backbone as format '{fmt}': "
                              + "; ".join(parts))
    backbone.load_state_dict(converted, strict=True)
    if distributed.is_main():
        left = f"; left out as head/method keys: {', '.join(report.ignored[:6])}" \
            f"{' ...' if len(report.ignored) > 6 else ''}" if report.ignored else ""
        print(f"vidssl: loaded {len(report.loaded)} backbone tensors from {where} (format "
              f"'{fmt}'){left}", file=sys.stderr)
    return report
