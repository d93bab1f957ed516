"""Weight formats: the layouts of backbone weights saved by torchvision and by the seed
repositories, as ``weight_format`` components (a stage loads one with ``init_from=PATH,
init_format=NAME``; ``vidssl-eval --format NAME`` does that for a checkpoint file).

Each format is a list of key-renaming rules (regular expressions, each applied to the result
of the previous one) plus the key prefixes that belong to heads or to method modules, not to the
backbone, and, where the layout can be written back, the rules that export to it:

Format → source → backbone it loads into:

- ``torchvision``: torchvision's ``r3d_18`` / ``r2plus1d_18`` state dicts → ``r3d`` / ``r2plus1d``
  (variant "torchvision"); also exports.
- ``kenshohara``: 3D-ResNets-PyTorch (seed 000 fine-tuning), LA's ``model_state_dict`` (seed 000),
  VTDL's ``r3d`` (seed 002), MLFO's ``r3d`` (seed 003) → ``r3d``; also exports.
- ``vmz``: seed 001's ``models/r2plus1d.py`` → ``r2plus1d`` (variant "vmz").
- ``irhum``: VTDL's ``model/r2p1d.py`` (seed 002) → ``r2plus1d`` (variant "irhum").
- ``i3d_nl``: seed 001's ``models/i3d_nl.py`` → ``i3d_resnet``.
- ``vtdl_i3d``: VTDL's ``model/i3d.py`` (seed 002) → ``i3d``; also exports.
- ``c3d``: VTDL's ``model/c3d.py`` (seed 002) → ``c3d``; also exports.

Checkpoint containers are unwrapped (``state_dict``, ``model_state_dict``, ``model``,
``backbone``) and DataParallel/DDP prefixes (``module.``) stripped. The core loads the result
strictly: missing, unexpected or mis-shaped keys are an error listing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from vidssl import CheckpointError


@dataclass(frozen=True)
class Format:
    """Key-renaming rules (pattern, replacement), applied in order, the source key prefixes that
    belong to heads or method modules, and the rules that write the layout back (``None``: the
    format is read only)."""

    name: str
    rules: list[tuple[str, Any]]
    ignored: tuple[str, ...] = ()
    export: list[tuple[str, str]] | None = None

    def to_vidssl(self, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """The backbone tensors of ``state`` with vidssl's key names, and the keys left out."""
        out, ignored = {}, []
        for key, value in unwrap(state).items():
            if key.startswith(self.ignored):
                ignored.append(key)
                continue
            out[_rename(key, self.rules)] = value
        return out, ignored

    def from_vidssl(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` (a vidssl backbone's) with this format's key names."""
        if self.export is None:
            writable = ", ".join(f for f, spec in FORMATS.items() if spec.export is not None)
            raise CheckpointError(
                f"weight format '{self.name}' is read only (formats that can be written: {writable})"
            )
        return {_rename(key, self.export): value for key, value in state.items()}


def _rename(key: str, rules: list[tuple[str, Any]]) -> str:
    for pattern, replacement in rules:
        key = re.sub(pattern, replacement, key)
    return key


_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)$"
_TORCHVISION_BLOCK = [
    (rf"^(layer\d\.\d+)\.conv(\d)\.1\.{_BN}", r"\1.bn\2.\3"),
    (r"^(layer\d\.\d+)\.conv(\d)\.0\.", r"\1.conv\2."),
    (r"\.downsample\.0\.", ".downsample.conv."),
    (r"\.downsample\.1\.", ".downsample.bn."),
]
_KENSHOHARA = [
    (r"^conv1\.", "stem.0."),
    (r"^bn1\.", "stem.1."),
    (r"\.downsample\.0\.", ".downsample.conv."),
    (r"\.downsample\.1\.", ".downsample.bn."),
]
_VMZ = [
    (r"^conv1_middle\.", "stem.0."),
    (r"^bn1_middle\.", "stem.1."),
    (r"^conv1\.", "stem.3."),
    (r"^bn1\.", "stem.4."),
    (r"\.block\.conv(\d)_middle\.", r".conv\1.0."),
    (r"\.block\.bn(\d)_middle\.", r".conv\1.1."),
    (r"\.block\.conv(\d)\.", r".conv\1.3."),
    (r"\.block\.bn(\d)\.", r".bn\1."),
    (r"\.block\.shortcut_bn\.", ".downsample.bn."),
    (r"\.block\.shortcut\.", ".downsample.conv."),
]
_IRHUM = [
    (r"^conv1\.spatial_conv\.", "stem.0.0."),
    (r"^conv1\.bn\.", "stem.0.1."),
    (r"^conv1\.temporal_conv\.", "stem.0.3."),
    (r"^bn1\.", "stem.1."),
    (r"^conv(\d)\.block1\.", lambda m: f"layer{int(m[1]) - 1}.0."),
    (r"^conv(\d)\.blocks\.(\d+)\.", lambda m: f"layer{int(m[1]) - 1}.{int(m[2]) + 1}."),
    (r"\.downsampleconv\.", ".downsample.conv."),
    (r"\.downsamplebn\.", ".downsample.bn."),
    (r"\.(conv\d|downsample\.conv)\.spatial_conv\.", r".\1.0."),
    (r"\.(conv\d|downsample\.conv)\.bn\.", r".\1.1."),
    (r"\.(conv\d|downsample\.conv)\.temporal_conv\.", r".\1.3."),
]
_I3D_NL = [
    (r"^conv1\.", "stem.0."),
    (r"^bn1\.", "stem.1."),
    (r"\.conv_sc\.", ".downsample.conv."),
    (r"\.bn_sc\.", ".downsample.bn."),
]

_TORCHVISION_EXPORT = [
    (r"^(layer\d\.\d+)\.conv(\d)\.", r"\1.conv\2.0."),
    (r"^(layer\d\.\d+)\.bn(\d)\.", r"\1.conv\2.1."),
    (r"\.downsample\.conv\.", ".downsample.0."),
    (r"\.downsample\.bn\.", ".downsample.1."),
]
_KENSHOHARA_EXPORT = [
    (r"^stem\.0\.", "conv1."),
    (r"^stem\.1\.", "bn1."),
    (r"\.downsample\.conv\.", ".downsample.0."),
    (r"\.downsample\.bn\.", ".downsample.1."),
]

FORMATS: dict[str, Format] = {
    format.name: format
    for format in [
        Format("torchvision", _TORCHVISION_BLOCK, ("fc.",), _TORCHVISION_EXPORT),
        Format(
            "kenshohara",
            _KENSHOHARA,
            ("fc.", "melow.", "memid.", "id_head.", "cls_head.", "feature_head."),
            _KENSHOHARA_EXPORT,
        ),
        Format("vmz", _VMZ, ("fc.",)),
        Format("irhum", _IRHUM, ("linear.", "id_head.", "cls_head.", "feature_head.")),
        Format("i3d_nl", _I3D_NL, ("fc.",)),
        Format(
            "vtdl_i3d",
            [],
            ("id_head.", "cls_head.", "feature_head.", "conv3d_0c_1x1_custom.", "motion_enhance_module."),
            [],
        ),
        Format("c3d", [], ("linear.",), []),
    ]
}
_CONTAINERS = ("state_dict", "model_state_dict", "model", "backbone")
_PREFIXES = ("module.", "backbone.", "encoder.")


def unwrap(state: dict) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint, without DataParallel/DDP/wrapper prefixes."""
    while not all(isinstance(v, torch.Tensor) for v in state.values()):
        inner = next((state[k] for k in _CONTAINERS if isinstance(state.get(k), dict)), None)
        if inner is None:
            raise CheckpointError(f"no state dict found in the checkpoint (keys: {', '.join(sorted(state))})")
        state = inner
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state
