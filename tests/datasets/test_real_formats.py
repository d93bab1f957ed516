"""The official dataset layouts, on the tiny copies ``vidssl-prepare fixtures`` writes: every
config's datasets read them (class counts fit the configs' heads, damaged videos are skipped and
counted), and ``vidssl-prepare verify`` reports what is missing, unreadable or empty."""

from __future__ import annotations

import json

import pytest

import vidssl
from conftest import REPO, run_cli
from vidssl import load_config, stage_configs


def test_fixtures_have_the_official_layouts_and_sizes(real_data_root):
    ucf = real_data_root / "ucf101"
    listing = (ucf / "ucfTrainTestlist" / "trainlist01.txt").read_bytes()
    assert listing.count(b"\r\n") == listing.count(b"\n") == 202, "CRLF, 2 of 3 groups train"
    assert (ucf / "UCF-101" / "HandstandPushups" / "v_HandStandPushups_g01_c01.avi").is_file()
    assert len(list((real_data_root / "hmdb51" / "splits").glob("*_test_split1.txt"))) == 51
    # what vidssl-prepare wrote; the session's runs add video indexes and synthetic_motion beside
    prepared = [
        p
        for name in ("ucf101", "hmdb51", "kinetics400", "something_v1")
        for p in (real_data_root / name).rglob("*")
        if ".vidssl-index" not in str(p)
    ]
    size = sum(p.stat().st_size for p in prepared if p.is_file())
    assert size < 50e6, f"{size / 1e6:.1f} MB"


@pytest.mark.parametrize(
    "config,classes",
    [
        ("vtdl_i3d_ucf.py", 101),
        ("vtdl_i3d_hmdb.py", 51),
        ("r2plus1d34_kinetics.py", 400),
        ("r2plus1d34_something_v1.py", 174),
    ],
)
def test_every_config_dataset_reads_the_fixtures(real_data_root, config, classes):
    cfg = load_config(REPO / "configs" / config, [f"data_root={real_data_root}"])
    stage = stage_configs(cfg)[0]
    dataset = vidssl.build(
        "dataset", {**stage["dataset"], "view": {"clip_len": 4, "size": 32}}, views={"clip": {}}
    )
    assert len(dataset.classes) == classes
    items = [dataset[i] for i in range(min(len(dataset), 12))]
    assert all(item["views"]["clip"].shape == (3, 4, 32, 32) for item in items)


def test_videos_known_unusable_at_start_up_are_left_out_not_skipped(real_data_root):
    """The index knows v_ApplyEyeMakeup_g15 unreadable: the dataset leaves it out when it is made
    (listed in ``unusable``), so no item is replaced by a neighbour and nothing counts towards
    ``reader.max_skipped`` (which is for videos that fail while read)."""
    from vidssl_datasets.video_index import VideoIndex

    root = real_data_root / "ucf101" / "UCF-101"
    corrupt = root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g15_c01.avi"
    assert VideoIndex(root).lookup(corrupt)["status"] == "unreadable"
    dataset = vidssl.build(
        "dataset",
        {
            "type": "ucf101",
            "root": str(root),
            "annotation_dir": str(real_data_root / "ucf101" / "ucfTrainTestlist"),
            "subset": "train",
            "view": {"clip_len": 4, "size": 32},
            "reader": {"max_skipped": 0.0},
        },
        views={"clip": {}},
    )
    assert dataset.unusable == [(str(corrupt), "unreadable")] and len(dataset) == 201
    assert all("v_ApplyEyeMakeup_g15" not in dataset.video_name(i) for i in range(len(dataset)))
    assert all(dataset[i]["skipped"] == 0 for i in range(0, 201, 40))


def test_verify_reports_and_writes_the_index(real_data_root):
    result = run_cli(
        "vidssl-prepare", "verify", "kinetics400", "--data-root", str(real_data_root), check=True
    )
    lines = {
        line.split()[0]: line.split()
        for line in result.stdout.splitlines()
        if line.startswith("kinetics400_")
    }
    # 400 listed per split; every 25th class was never downloaded; one corrupt, one empty file
    assert lines["kinetics400_train"][1:6] == ["400", "382", "16", "1", "1"]
    assert lines["kinetics400_val"][1:6] == ["400", "384", "16", "0", "0"]
    assert lines["kinetics400_train"][6] == "246534"
    index = real_data_root / "kinetics400" / "train" / ".vidssl-index.jsonl"
    entries = [json.loads(line) for line in index.read_text().splitlines()]
    assert {e["status"] for e in entries} == {"ok", "missing", "unreadable", "empty"}
    assert sum(e["status"] == "ok" for e in entries) == 382
    assert "vidssl-verify.txt" in result.stdout
    absent = run_cli("vidssl-prepare", "verify", "hmdb51", "--data-root", str(real_data_root / "x"))
    assert absent.returncode == 2 and "does not exist" in absent.stderr


def test_too_many_unreadable_videos_stop_the_run(tmp_path):
    import numpy as np

    from vidssl import RunError
    from vidssl_datasets.synthetic_motion import write_video

    for name in ("a.avi", "c.avi", "d.avi"):
        write_video(tmp_path / name, np.zeros((8, 16, 16, 3), np.uint8))
    (tmp_path / "b.avi").write_bytes(b"broken")

    def dataset(max_skipped):
        return vidssl.build(
            "dataset",
            {
                "type": "video_files",
                "root": str(tmp_path),
                "paths": ["a.avi", "b.avi", "c.avi", "d.avi"],
                "reader": {"max_skipped": max_skipped},
                "view": {"clip_len": 4, "size": 16},
            },
            views={"clip": {}},
        )

    assert dataset(0.25)[1]["skipped"] == 1, "1 of 4 is within 25 %"
    with pytest.raises(
        RunError,
        match=r"1 of its 4 videos \(25.0 %\) failed while read, "
        r"more than reader.max_skipped=0.05",
    ):
        dataset(0.05)[1]
