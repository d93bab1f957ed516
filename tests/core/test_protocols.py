"""The dataset and backbone contracts: a component that lacks part of one is named with what it
lacks, before any work starts."""

from __future__ import annotations

import pytest
import torch

import vidssl
from vidssl import Backbone, ClipDataset, ConfigError, check


class HalfDataset(torch.utils.data.Dataset):
    classes = ["a"]

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict:
        return {}


def test_missing_protocol_attributes_are_named():
    with pytest.raises(
        ConfigError,
        match=r"^stages\[0\]\.dataset: HalfDataset is not a vidssl "
        r"ClipDataset: it lacks set_epoch, video_name, label, "
        r"frames \(see vidssl.ClipDataset\)$",
    ):
        check(HalfDataset(), ClipDataset, "stages[0].dataset")
    with pytest.raises(
        ConfigError,
        match=r"backbone: Linear is not a vidssl Backbone: it lacks "
        r"feat_dim, feature_info, forward_features",
    ):
        check(torch.nn.Linear(2, 2), Backbone, "backbone")


def test_shipped_components_satisfy_the_protocols(tmp_path):
    check(vidssl.build("backbone", {"type": "c3d"}), Backbone, "backbone")
    dataset = vidssl.build(
        "dataset",
        {"type": "video_files", "paths": ["a.avi", "b.avi"], "root": str(tmp_path)},
        views={"clip": {}},
    )
    check(dataset, ClipDataset, "dataset")
    assert dataset.video_name(1) == str(tmp_path / "b.avi") and dataset.label(0) == -1
