"""vidssl-prepare on real video files: frame extraction (resumable, failures reported) and the
annotation JSON, read back through the video_list dataset."""

from __future__ import annotations

import json

import numpy as np

import vidssl
from conftest import run_cli
from vidssl_datasets.synthetic_motion import write_video


def test_frames_then_annotations_then_dataset(tmp_path):
    videos = tmp_path / "UCF-101"
    for cls in ("ApplyEyeMakeup", "Archery"):
        (videos / cls).mkdir(parents=True)
        for g in (1, 8):
            frames = (np.random.default_rng(g).random((9, 48, 64, 3)) * 255).astype(np.uint8)
            write_video(videos / cls / f"v_{cls}_g{g:02d}_c01.avi", frames)
    (videos / "Archery" / "v_Archery_g99_c01.avi").write_bytes(b"broken")
    out = tmp_path / "frames"
    first = run_cli(
        "vidssl-prepare", "frames", "--videos", str(videos), "--out", str(out), "--short-side", "32"
    )
    assert first.returncode == 1
    assert "failed: " in first.stderr and "v_Archery_g99_c01.avi" in first.stderr
    assert "extracted 4, failed 1" in first.stderr
    folder = out / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01"
    assert (folder / "n_frames").read_text().strip() == "9"
    assert len(list(folder.glob("image_*.jpg"))) == 9
    assert not list(out.rglob("*.partial")), "a failed video leaves nothing half-written"
    again = run_cli("vidssl-prepare", "frames", "--videos", str(videos), "--out", str(out))
    assert "5 videos, 4 already done, 1 to extract" in again.stderr

    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Archery\n")
    (lists / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nArchery/v_Archery_g08_c01.avi 2\n"
    )
    (lists / "testlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nArchery/v_Archery_g01_c01.avi\n"
    )
    target = tmp_path / "ucf101_01.json"
    run_cli(
        "vidssl-prepare",
        "annotations",
        "ucf101",
        "--annotation-dir",
        str(lists),
        "--out",
        str(target),
        check=True,
    )
    data = json.loads(target.read_text())
    assert data["labels"] == ["ApplyEyeMakeup", "Archery"]
    assert data["database"]["v_Archery_g01_c01"] == {
        "subset": "validation",
        "annotations": {"label": "Archery"},
    }
    dataset = vidssl.build(
        "dataset",
        {
            "type": "video_list",
            "root": str(out),
            "annotation": str(target),
            "subset": "validation",
            "view": {"clip_len": 4, "size": 32},
        },
        views={"clip": {}},
    )
    item = dataset[1]
    assert item["label"] == 1 and item["views"]["clip"].shape == (3, 4, 32, 32)
    ucf = vidssl.build(
        "dataset",
        {
            "type": "ucf101",
            "root": str(out),
            "annotation_dir": str(lists),
            "subset": "test",
            "reader": {"source": "frames"},
            "view": {"clip_len": 4, "size": 32},
        },
        views={"clip": {}},
    )
    assert len(ucf) == 2 and ucf[0]["label"] == 0
