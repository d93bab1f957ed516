"""Reading real video files and frame folders, and what happens with broken ones."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
import torch

import vidssl
from vidssl import DataError
from vidssl_datasets.synthetic_motion import write_video
from vidssl_datasets.video_dataset import VideoDataset
from vidssl_datasets.video_index import VideoIndex
from vidssl_datasets.video_reader import count_frames, read_frames, read_video
from vidssl_datasets.video_source import ReaderSpec, VideoRecord


def gradient_video(n: int = 10, size: int = 32) -> np.ndarray:
    """Frames whose brightness encodes the frame index (survives MJPG compression)."""
    return np.stack([np.full((size, size, 3), 20 + 20 * i, np.uint8) for i in range(n)])


@pytest.mark.parametrize("backend", ["opencv", "pyav"])
def test_decoders_read_every_frame_in_order(tmp_path, backend):
    path = tmp_path / "v.avi"
    write_video(path, gradient_video())
    frames = read_video(path, backend)
    assert frames.shape == (10, 32, 32, 3) and frames.dtype == np.uint8
    assert np.allclose(frames.mean((1, 2, 3)), 20 + 20 * np.arange(10), atol=3)


def test_frame_count_comes_from_decoding_not_metadata(tmp_path):
    path = tmp_path / "v.avi"
    write_video(path, gradient_video(10))
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.9)])  # lose the tail
    claimed = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT)
    frames = read_video(path)
    assert claimed == 10 and 0 < len(frames) < 10, "the container still claims 10 frames"
    assert np.allclose(frames.mean((1, 2, 3)), 20 + 20 * np.arange(len(frames)), atol=3)


@pytest.mark.parametrize("backend", ["auto", "opencv"])
def test_whole_videos_stream_one_frame_at_a_time(tmp_path, backend):
    path = tmp_path / "long.avi"
    write_video(path, np.repeat(gradient_video(10, 64), 12, axis=0))  # 120 frames
    dataset = VideoDataset([VideoRecord(str(path), -1)], [], {}, None, ReaderSpec(backend=backend))
    frames = dataset.frames(0)
    assert not isinstance(frames, np.ndarray)
    tracemalloc.start()
    means = [float(frame.mean()) for frame in frames]  # keeps no frame
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(means) == 120 and np.allclose(means[::12], 20 + 20 * np.arange(10), atol=3)
    assert peak < 10 * 64 * 64 * 3, f"{peak} bytes held at once: more than 10 of 120 frames"


def test_a_stream_shorter_than_indexed_is_an_error_naming_the_video(tmp_path):
    """A video that changes under a running job (after the dataset checked it at start-up) is
    caught where it is read."""
    path = tmp_path / "v.avi"
    write_video(path, gradient_video(12))
    (tmp_path / "list.txt").write_text("v.avi 12 0\n")
    assert VideoIndex(tmp_path).lookup(path)["n_frames"] == 12  # indexed: 12 frames
    dataset = vidssl.build(
        "dataset",
        {
            "type": "video_list",
            "root": str(tmp_path),
            "annotation": str(tmp_path / "list.txt"),
            "reader": {"source": "video"},
        },
        views={"clip": {}},
    )
    write_video(path, gradient_video(6))  # replaced while the job runs
    with pytest.raises(
        DataError,
        match=r"v.avi: decoding gave 6 frames where the index counted "
        r"12 .*list.txt:1",
    ):
        list(dataset.frames(0))


def test_frame_folders(tmp_path):
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"image_{i + 1:05d}.jpg"), np.full((16, 20, 3), 40 * i, np.uint8))
    assert count_frames(tmp_path) == 5
    frames = read_frames(tmp_path, [0, 4, 4])
    assert frames.shape == (3, 16, 20, 3) and abs(float(frames[1].mean()) - 160) < 3
    (tmp_path / "n_frames").write_text("4\n")
    assert count_frames(tmp_path) == 4
    with pytest.raises(DataError, match=r"frame .*image_00010.jpg is missing"):
        read_frames(tmp_path, [9])


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "missing"])
def test_broken_videos_are_named(tmp_path, damage):
    path = tmp_path / "bad.avi"
    write_video(path, gradient_video())
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        path.unlink()
    with pytest.raises(DataError, match=str(path)):
        read_video(path)


def test_dataset_skips_and_counts_corrupt_videos_or_fails_fast(tmp_path, capsys):
    good, bad = tmp_path / "good.avi", tmp_path / "bad.avi"
    write_video(good, gradient_video(12))
    bad.write_bytes(b"not a video")
    records = [VideoRecord(str(bad), 0, origin="list.txt:1"), VideoRecord(str(good), 1, origin="list.txt:2")]
    view = dict(clip_len=4, size=16)
    dataset = VideoDataset(records, ["a", "b"], {"clip": {}}, view, ReaderSpec(max_skipped=0.5))
    item = dataset[0]
    assert item["skipped"] == 1 and item["index"] == 1 and item["label"] == 1
    assert item["views"]["clip"].shape == (3, 4, 16, 16)
    assert "bad.avi" in capsys.readouterr().err and "list.txt:1" in str(records[0].origin)
    strict = VideoDataset(records, ["a", "b"], {"clip": {}}, view, ReaderSpec(on_error="raise"))
    with pytest.raises(DataError, match=r"bad.avi could not be decoded .*\(list.txt:1\)"):
        strict[0]


def test_items_are_deterministic_per_seed_epoch_and_index(tmp_path):
    path = tmp_path / "v.avi"
    write_video(path, (np.random.default_rng(1).random((20, 40, 40, 3)) * 255).astype(np.uint8))
    view = dict(clip_len=4, size=24, crop="random_resized", color_jitter=[0.4, 0.4, 0.4])
    dataset = VideoDataset([VideoRecord(str(path), 0)] * 3, ["a"], {"a": {}, "b": {}}, view)
    first = dataset[1]["views"]
    assert torch.equal(first["a"], dataset[1]["views"]["a"])
    assert not torch.equal(first["a"], first["b"]), "views are augmented independently"
    dataset.set_epoch(1)
    assert not torch.equal(first["a"], dataset[1]["views"]["a"])


def test_label_changing_augmentations_are_refused_on_synthetic_motion(tmp_path):
    with pytest.raises(
        vidssl.ConfigError,
        match=r"'hflip' changes the class on this dataset "
        r"\(move_right→move_left",
    ):
        vidssl.build(
            "dataset",
            {"type": "synthetic_motion", "split": "unlabeled", "view": {"flip": 0.5}},
            views={"clip": {}},
        )
    with pytest.raises(vidssl.ConfigError, match=r"'reverse' changes the class"):
        vidssl.build(
            "dataset", {"type": "synthetic_motion", "split": "unlabeled"}, views={"clip": {"reverse": 0.5}}
        )
