"""The contracts between the core and the components plugins register, written as code.

A plugin's dataset or backbone does not subclass anything of vidssl: it has the attributes below.
The runner checks them (:func:`check`) when it builds a stage, so a
component that lacks one is a config error naming it, not an ``AttributeError`` mid-run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import torch

from vidssl._common.errors import ConfigError

#: The argument by which a method that classifies takes its number of classes: before any work,
#: the runner checks it against the classes of the datasets the stage trains and evaluates on.
NUM_CLASSES = "num_classes"

#: An optional attribute of a training dataset: its items hold this many clips of each view
#: (``N×C×T×H×W``, e.g. N augmentations of one decoded span); the training loader flattens them
#: to a batch of ``B·N`` clips with ``label`` and ``index`` repeated (``skipped`` still counts
#: videos). Without it, one clip per view.
CLIPS_PER_ITEM = "clips_per_item"


def clips_per_item(dataset: Any) -> int:
    """The dataset's :data:`CLIPS_PER_ITEM` (1 where it does not say)."""
    return getattr(dataset, CLIPS_PER_ITEM, 1)


@runtime_checkable
class ClipDataset(Protocol):
    """A map-style dataset of videos that yields the views a method asks for.

    ``dataset[i]`` is ``{"views": {name: tensor}, "label": int, "index": int, "skipped": int}``:
    each view is ``3×T×H×W`` (``N×[crops×]3×T×H×W`` for multi-clip views), ``label`` the class
    (−1 when unlabelled), ``index`` the row of the video actually read (memory-bank methods key on
    it) and ``skipped`` how many unreadable videos were passed over to produce the item.

    Optional: ``unusable``, a list of (video, why) of the videos the dataset left out when it was
    made (missing or known unreadable files); the runner lists them in the work dir
    (``unusable_videos/<stage>.<dataset key>.tsv``) and counts them on the stage's protocol card.

    Optional: ``exclude(rows)``, leave rows out from now on without renumbering the others: an
    item that would read one passes over it as over an unreadable video (counted in ``skipped``,
    and once towards the dataset's limit of skipped videos). The runner calls it with the videos
    that killed or hung a data worker in this run (:mod:`vidssl._engine.data_faults`), so a
    resumed run goes on past them; a dataset without it reads them again.
    """

    #: class names, in label order
    classes: list[str]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...

    def set_epoch(self, epoch: int) -> None:
        """Called before every epoch: random choices of an item depend on (seed, epoch, row)."""

    def video_name(self, row: int) -> str:
        """The file or folder of video ``row`` (for messages, feature indexes, IDT caches)."""

    def label(self, row: int) -> int:
        """The class of video ``row`` from the annotation (−1 when unlabelled), without reading
        the video."""

    def frames(self, row: int) -> Iterator[np.ndarray]:
        """Every frame of video ``row`` in order, each ``H×W×3`` uint8 RGB, no view applied,
        decoded as the iterator is consumed (so a long video never sits in memory whole); raises
        :class:`~vidssl.DataError` naming the video if it cannot be read."""


@dataclass(frozen=True)
class FeatureInfo:
    """One map of ``forward_features``: its name, channels and stride ``(t, h, w)`` relative to
    the input clip (like timm's ``feature_info``)."""

    name: str
    channels: int
    stride: tuple[int, int, int]


@runtime_checkable
class Backbone(Protocol):
    """A backbone maps ``B×3×T×H×W`` clips to ``B×feat_dim`` pooled features (an ``nn.Module``)."""

    feat_dim: int
    #: the maps of :meth:`forward_features`, in order, shallow to deep
    feature_info: list[FeatureInfo]

    def forward(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward_features(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """Named stage maps ``B×C×T'×H'×W'``, as described by :attr:`feature_info`."""


@runtime_checkable
class WeightFormat(Protocol):
    """A layout of backbone weights other than vidssl's own (torchvision's, a seed repository's):
    a ``weight_format`` component converts between it and vidssl's backbone state dicts, so the
    core loads any of them with a stage's ``init_from`` + ``init_format`` and exports to them."""

    def to_vidssl(self, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """The backbone tensors of a loaded checkpoint ``state`` (any container the format's
        files use) renamed to vidssl's layout, and the source keys left out as heads or method
        modules. Raises :class:`~vidssl.CheckpointError` when ``state`` holds no state dict."""

    def from_vidssl(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A vidssl backbone ``state`` renamed to this format's layout; raises
        :class:`~vidssl.CheckpointError` if the format cannot be written."""


def _missing(obj: object, protocol: type) -> list[str]:
    names = (
        [n for n in protocol.__dict__.get("__annotations__", {})]
        + [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]
        + (["__len__", "__getitem__"] if protocol is ClipDataset else [])
    )
    return [n for n in dict.fromkeys(names) if not hasattr(obj, n)]


def check(component: object, protocol: type, where: str) -> None:
    """Raise :class:`ConfigError` naming what ``component`` (built at ``where``, a config path)
    lacks of ``protocol`` (:class:`ClipDataset`, :class:`Backbone` or :class:`WeightFormat`)."""
    missing = _missing(component, protocol)
    if missing:
        raise ConfigError(
            f"{where}: {type(component).__name__} is not a vidssl "
            f"{protocol.__name__}: it lacks {', '.join(missing)} (see "
            f"vidssl.{protocol.__name__})"
        )
    if protocol is Backbone:
        for info in cast(Any, component).feature_info:
            stride = getattr(info, "stride", None)
            if not (
                isinstance(stride, tuple) and len(stride) == 3 and all(isinstance(v, int) for v in stride)
            ):
                raise ConfigError(
                    f"{where}: {type(component).__name__}.feature_info entry "
                    f"'{getattr(info, 'name', info)}' has stride {stride!r}; a stride is a (t, h, w) "
                    f"tuple of ints relative to the input clip, e.g. vidssl.FeatureInfo('res2', "
                    f"64, (1, 4, 4))"
                )
