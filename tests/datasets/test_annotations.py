"""Annotation readers on the exact line shapes of the official files."""

from __future__ import annotations

import json

import pytest

import vidssl
from vidssl import DataError
from vidssl_datasets import annotations as ann


def test_ucf101_lists(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 ApplyLipstick\n")
    (tmp_path / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nApplyLipstick/v_ApplyLipstick_g08_c01.avi 2\n"
    )
    (tmp_path / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n")
    classes = ann.read_class_index(tmp_path / "classInd.txt")
    assert classes == ["ApplyEyeMakeup", "ApplyLipstick"]
    train = ann.read_ucf101_list(tmp_path / "trainlist01.txt", classes, tmp_path / "UCF-101")
    assert [(r.path.split("UCF-101/")[1], r.label) for r in train] == [
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0),
        ("ApplyLipstick/v_ApplyLipstick_g08_c01.avi", 1),
    ]
    test = ann.read_ucf101_list(
        tmp_path / "testlist01.txt", classes, tmp_path / "frames", strip_extension=True
    )
    assert test[0].path.endswith("frames/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01") and test[0].label == 0


def test_ucf101_bad_line_names_file_and_line(tmp_path):
    (tmp_path / "trainlist01.txt").write_text("A/v_A_g01_c01.avi 1\nA/v_A_g02_c01.avi seven\n")
    with pytest.raises(DataError, match=r"trainlist01.txt:2: class index must be an integer, got 'seven'"):
        ann.read_ucf101_list(tmp_path / "trainlist01.txt", ["A"], tmp_path)
    (tmp_path / "testlist01.txt").write_text("Unknown/v_Unknown_g01_c01.avi\n")
    with pytest.raises(DataError, match=r"testlist01.txt:1: unknown class 'Unknown'"):
        ann.read_ucf101_list(tmp_path / "testlist01.txt", ["A"], tmp_path)


def test_hmdb51_split_files_with_trailing_space(tmp_path):
    (tmp_path / "brush_hair_test_split1.txt").write_text(
        "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \nApril_09_brush_hair_u_nm_np1_ba_goo_1.avi 2 \n"
        "April_09_brush_hair_u_nm_np1_ba_goo_2.avi 0 \n"
    )
    (tmp_path / "cartwheel_test_split1.txt").write_text(
        "Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi 1 \n"
    )
    train, classes = ann.read_hmdb51(tmp_path, 1, "train", tmp_path / "hmdb")
    assert classes == ["brush_hair", "cartwheel"]
    assert [(r.path.split("hmdb/")[1], r.label) for r in train] == [
        ("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 0),
        ("cartwheel/Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi", 1),
    ]
    test, _ = ann.read_hmdb51(tmp_path, 1, "test", tmp_path / "hmdb")
    assert [r.label for r in test] == [0]
    (tmp_path / "cartwheel_test_split1.txt").write_text("video.avi 3 \n")
    with pytest.raises(DataError, match=r"cartwheel_test_split1.txt:1: expected '<video>.avi <0\|1\|2>'"):
        ann.read_hmdb51(tmp_path, 1, "train", tmp_path)


def test_kinetics_csv_with_spaces_and_quotes(tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text(
        'label,youtube_id,time_start,time_end,split\n'
        'abseiling,0347ZoDXyP0,14,24,train\n'
        '"passing American football (in game)",-0tRRjVOPBA,5,15,train\n'
        '"tying knot (not on a tie)",0Agi_gXDdKo,0,10,train\n'
    )
    records, classes = ann.read_kinetics(csv, tmp_path / "train")
    assert classes == ["abseiling", "passing American football (in game)", "tying knot (not on a tie)"]
    assert records[0].path.endswith("train/abseiling/0347ZoDXyP0_000014_000024.mp4")
    assert records[1].path.endswith("passing American football (in game)/-0tRRjVOPBA_000005_000015.mp4")
    csv.write_text("label,youtube_id,time_start,time_end,split\nabseiling,x,start,24,train\n")
    with pytest.raises(DataError, match=r"train.csv:2: time_start must be an integer"):
        ann.read_kinetics(csv, tmp_path)
    csv.write_text("name,id\n")
    with pytest.raises(DataError, match=r"train.csv:1: expected the header"):
        ann.read_kinetics(csv, tmp_path)


def test_something_v1(tmp_path):
    (tmp_path / "something-something-v1-labels.csv").write_text(
        "Holding something\nSomething falling like a feather or paper\n"
    )
    (tmp_path / "something-something-v1-train.csv").write_text(
        "100218;Something falling like a feather or paper\n48032;Holding something\n"
    )
    records, classes = ann.read_something_v1(
        tmp_path / "something-something-v1-labels.csv",
        tmp_path / "something-something-v1-train.csv",
        tmp_path / "frames",
    )
    assert [(r.path.split("frames/")[1], r.label) for r in records] == [("100218", 1), ("48032", 0)]
    (tmp_path / "bad.csv").write_text("100218;Juggling\n")
    with pytest.raises(DataError, match=r"bad.csv:1: unknown label 'Juggling'"):
        ann.read_something_v1(tmp_path / "something-something-v1-labels.csv", tmp_path / "bad.csv", tmp_path)


def test_seed_list_formats(tmp_path):
    (tmp_path / "vtdl.txt").write_text("/data1/DataSet/UCF101/jpegs_256/v_ApplyEyeMakeup_g08_c01 120 0\n")
    records, _ = ann.read_video_list(tmp_path / "vtdl.txt", tmp_path)
    assert records[0].n_frames == 120 and records[0].label == 0
    (tmp_path / "mlfo.csv").write_text("train/abseiling/abc,300\ntrain/abseiling/def,250,3\n")
    records, _ = ann.read_video_list(tmp_path / "mlfo.csv", tmp_path)
    assert [(r.n_frames, r.label) for r in records] == [(300, -1), (250, 3)]
    (tmp_path / "k.json").write_text(
        json.dumps(
            {
                "labels": ["abseiling", "air drumming"],
                "database": {
                    "abc_000014_000024": {"subset": "training", "annotations": {"label": "air drumming"}},
                    "xyz": {"subset": "validation", "annotations": {"label": "abseiling"}},
                    "t": {"subset": "testing", "annotations": {}},
                },
            }
        )
    )
    records, classes = ann.read_video_list(tmp_path / "k.json", tmp_path / "jpg", "training")
    assert classes == ["abseiling", "air drumming"]
    assert records[0].path.endswith("jpg/air_drumming/abc_000014_000024") and records[0].label == 1
    (tmp_path / "bad.txt").write_text("a 12 0\nb twelve 1\n")
    with pytest.raises(DataError, match=r"bad.txt:2: n_frames must be an integer, got 'twelve'"):
        ann.read_video_list(tmp_path / "bad.txt", tmp_path)


def test_missing_dataset_says_how_to_prepare_it(tmp_path):
    with pytest.raises(DataError, match=r"ucf101: annotation folder .* does not exist.*vidssl-prepare"):
        vidssl.build(
            "dataset",
            {
                "type": "ucf101",
                "root": str(tmp_path / "UCF-101"),
                "annotation_dir": str(tmp_path / "ucfTrainTestlist"),
            },
            views={"clip": {}},
        )
