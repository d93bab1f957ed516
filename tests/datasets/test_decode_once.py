"""One decode per item: the clips of every view of an item are read in one call, the reader decodes
their union once (seeking over gaps that span a keyframe), and items equal the per-clip reads of
before bit for bit; ``vidssl-prepare transcode`` re-encodes a dataset for training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_partial_reads import encode

import vidssl
from conftest import REPO, run_cli
from vidssl_datasets import video_reader
from vidssl_datasets.prepare import extract_frames
from vidssl_datasets.video_dataset import VideoDataset
from vidssl_datasets.video_index import VideoIndex
from vidssl_datasets.video_source import ReaderSpec, VideoRecord
from vidssl_datasets.view import frame_indices
from vidssl_datasets.view_render import render_view


def method_views() -> dict[str, dict]:
    """The view sets of the shipped methods (asked of each method itself) and of the multi-clip
    test protocol (10 uniform clips × three crops)."""
    backbone = vidssl.build("backbone", {"type": "r3d", "depth": 10, "width": 0.125})
    sets = {
        name: vidssl.build("method", {"type": name, **args}, backbone=backbone).views
        for name, args in (
            ("vtdl", {"temporal_negative": True, "queue_size": 16}),
            ("mlfo", {"num_prototypes": 4, "queue_size": 16}),
            ("supervised", {"num_classes": 2}),
        )
    }
    sets["multi_clip_test"] = {"clip": {"sampler": "uniform", "num_clips": 10, "crop": "three"}}
    return sets


VIEW = {
    "clip_len": 6,
    "stride": 2,
    "size": 32,
    "crop": "random_resized",
    "flip": 0.5,
    "color_jitter": [0.4, 0.4, 0.4],
    "rate_max": 2.0,
}


def per_clip_item(dataset: VideoDataset, row: int, epoch: int) -> dict[str, torch.Tensor]:
    """Item ``row`` as it was made before: each clip read on its own."""
    rng = np.random.default_rng([dataset.seed, epoch, row])
    record = dataset.table.record(row)
    n, get = dataset._frame_source(record, row)
    indices = frame_indices(dataset.specs, n, rng, dataset.samplers)
    views = {}
    for name, spec in dataset.specs.items():
        clips = [render_view(get(ids), spec, rng, dataset.transforms[name]) for ids in indices[name]]
        views[name] = clips[0] if len(clips) == 1 else torch.stack(clips)
    return views


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Three real encodes of 80 frames: MPEG-4 part 2 AVI (GOP 12, with and without B-frames)
    and H.264 with B-frames (GOP 25), plus the first one as a frame folder."""
    root = tmp_path_factory.mktemp("decode_once")
    for name, kind in (
        ("mpeg4.avi", dict(codec="mpeg4")),
        ("mpeg4_bframes.avi", dict(codec="mpeg4", bframes=2)),
        ("h264.mp4", dict(codec="libx264", bframes=3, gop=25)),
    ):
        encode(root / name, frames=80, **kind)
    extract_frames(root / "mpeg4.avi", root / "frames" / "mpeg4", 64)
    return root


@pytest.mark.parametrize("backend", ["pyav", "opencv", "auto"])
def test_items_equal_the_per_clip_reads_for_every_view_set(videos, backend):
    records = [VideoRecord(str(videos / name), 0) for name in ("mpeg4.avi", "mpeg4_bframes.avi", "h264.mp4")]
    for views in method_views().values():
        for seed in (0, 5):
            dataset = VideoDataset(
                records, ["a"], views, VIEW, ReaderSpec(backend=backend), seed, index=VideoIndex(videos)
            )
            for epoch in (0, 3):
                dataset.set_epoch(epoch)
                for row in range(len(records)):
                    item, expected = dataset[row]["views"], per_clip_item(dataset, row, epoch)
                    for name in expected:
                        assert torch.equal(item[name], expected[name]), (views, seed, epoch, row)


def test_frame_folder_items_equal_the_per_clip_reads(videos):
    records = [VideoRecord(str(videos / "frames" / "mpeg4"), 0)]
    for views in method_views().values():
        dataset = VideoDataset(records, ["a"], views, VIEW, ReaderSpec(source="frames"), seed=1)
        item, expected = dataset[0]["views"], per_clip_item(dataset, 0, 0)
        assert all(torch.equal(item[name], expected[name]) for name in expected)


def test_a_vtdl_item_decodes_its_clips_union_once(videos, monkeypatch):
    """Frames decoded for a VTDL item (query, key at the same time, a negative elsewhere) are at
    most the union of its clips' spans plus one group of pictures each; read clip by clip, the
    query's span was decoded twice."""
    decoded = []

    def counting(container, stream, strict=False):
        for frame in video_reader_decoded(container, stream, strict):
            decoded.append(frame.pts)
            yield frame

    video_reader_decoded = video_reader.decoded_frames
    monkeypatch.setattr(video_reader, "decoded_frames", counting)
    views = method_views()["vtdl"]
    dataset = VideoDataset(
        [VideoRecord(str(videos / "mpeg4.avi"), 0)],
        ["a"],
        views,
        {"clip_len": 8, "size": 32},
        ReaderSpec(backend="pyav"),
        index=VideoIndex(videos),
    )
    gop = 12
    for epoch in range(6):
        dataset.set_epoch(epoch)
        rng = np.random.default_rng([dataset.seed, epoch, 0])
        indices = frame_indices(dataset.specs, 80, rng, dataset.samplers)
        union = {i for clips in indices.values() for ids in clips for i in ids}
        spans = {(min(ids), max(ids)) for clips in indices.values() for ids in clips}
        decoded.clear()
        dataset[0]
        at_most = len(set().union(*(range(a, b + 1) for a, b in spans))) + gop * len(spans)
        assert len(union) <= len(decoded) <= at_most, (epoch, len(decoded), at_most)
        decoded.clear()
        per_clip_item(dataset, 0, epoch)
        assert len(decoded) >= 2 * 8 + 8, "per clip, query and key were decoded twice"


def test_transcode_keeps_layout_names_and_frames_and_the_copy_verifies(real_data_root, tmp_path):
    out = tmp_path / "dense"
    result = run_cli(
        "vidssl-prepare",
        "transcode",
        "ucf101",
        "--data-root",
        str(real_data_root),
        "--out",
        str(out),
        "--short-side",
        "64",
        "--gop",
        "4",
    )
    assert "MB →" in result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert result.returncode == 1 and len(failed) == 2, "the fixture's corrupt and empty video"
    source, copy = real_data_root / "ucf101", out / "ucf101"
    assert sorted(p.relative_to(copy) for p in (copy / "ucfTrainTestlist").iterdir()) == sorted(
        p.relative_to(source) for p in (source / "ucfTrainTestlist").iterdir()
    )
    originals = VideoIndex(source / "UCF-101")
    copies = VideoIndex(copy / "UCF-101")
    pairs = [(p, copy / p.relative_to(source)) for p in sorted((source / "UCF-101").rglob("*.avi"))]
    checked = 0
    for original, copied in pairs:
        before = originals.lookup(original, "all")
        if before["status"] != "ok":
            assert not copied.exists()  # an unreadable source is reported, not copied
            continue
        after = copies.lookup(copied)
        assert after["status"] == "ok" and after["n_frames"] == before["n_frames"]
        assert min(after["width"], after["height"]) == min(64, before["width"], before["height"])
        keys = [k[0] for k in after["keyframes"]]  # every 4th frame (x264 may add the last)
        assert set(range(0, after["n_frames"], 4)) <= set(keys) and max(np.diff(keys)) <= 4
        checked += 1
    assert checked >= 10
    again = run_cli(
        "vidssl-prepare",
        "transcode",
        "ucf101",
        "--data-root",
        str(real_data_root),
        "--out",
        str(out),
        check=False,
    )
    assert f"{checked} transcoded already, 2 to transcode" in again.stderr  # the failed retried
    verified = run_cli("vidssl-prepare", "verify", "ucf101", "--data-root", str(out), check=True)
    assert "ucf101" in verified.stdout


def test_transcode_refuses_frame_folders_and_the_source_itself(real_data_root, tmp_path):
    frames = run_cli(
        "vidssl-prepare",
        "transcode",
        "something_v1",
        "--data-root",
        str(real_data_root),
        "--out",
        str(tmp_path),
        check=False,
    )
    assert frames.returncode != 0 and "frame folders" in frames.stderr
    itself = run_cli(
        "vidssl-prepare",
        "transcode",
        "ucf101",
        "--data-root",
        str(real_data_root),
        "--out",
        str(real_data_root),
        check=False,
    )
    assert itself.returncode != 0 and "would overwrite or nest in the source" in itself.stderr


@pytest.mark.slow
def test_a_smoke_run_reads_a_transcoded_kinetics(real_data_root, tmp_path):
    out = tmp_path / "dense"
    run_cli(
        "vidssl-prepare",
        "transcode",
        "kinetics400",
        "--data-root",
        str(real_data_root),
        "--out",
        str(out),
        check=False,
    )  # the fixture's unreadable video fails, listed
    run_cli(
        "vidssl-run",
        str(REPO / "configs" / "vtdl_i3d_kinetics.py"),
        "--smoke",
        "--tiny",
        "--stages",
        "pretrain",
        "--work-dir",
        str(tmp_path / "run"),
        "--cfg-options",
        f"data_root={out}",
        check=True,
    )
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "pretrain" in results


def test_repeat_cuts_several_augmented_clips_from_one_decode(data_root):
    """``repeat=3``: an item holds three independently augmented clips of the one decoded span
    (the frames are read once), the first being the item ``repeat=1`` gives."""
    common = {
        "type": "synthetic_motion",
        "split": "train",
        "size": 16,
        "frames": 12,
        "train_per_class": 4,
        "test_per_class": 2,
        "root": str(data_root),
        "view": {"clip_len": 8, "size": 16, "crop": "random_resized", "color_jitter": [0.4, 0.4, 0.4]},
    }
    one = vidssl.build("dataset", common, views={"clip": {}})
    three = vidssl.build("dataset", {**common, "repeat": 3}, views={"clip": {}})
    reads = []
    source = three._frame_source

    def counted(record, row):
        n, get = source(record, row)
        return n, lambda ids: reads.append(list(ids)) or get(ids)

    three._frame_source = counted
    for row in (0, 7):
        single, repeated = one[row]["views"]["clip"], three[row]["views"]["clip"]
        assert repeated.shape == (3, *single.shape) and three.clips_per_item == 3
        assert torch.equal(repeated[0], single), "the first clip is the repeat=1 item's"
        assert not torch.equal(repeated[0], repeated[1]) and not torch.equal(repeated[1], repeated[2]), (
            "each clip is augmented on its own"
        )
    assert len(reads) == 2, "one read per item"
    with pytest.raises(vidssl.ConfigError, match=r"repeat must be at least 1"):
        vidssl.build("dataset", {**common, "repeat": 0}, views={"clip": {}})
