"""Videos that break decoders: a data worker killed on one video, or hung on another past
``data_timeout_s``, stops the run with one line naming the video, the video is left out from
then on, and ``--resume`` finishes past it; mutated copies of real encoded videos read by two
data workers give clips, counted skips or that one-line stop, never a hang or a traceback."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import pytest

from conftest import make_distribution, run_cli

pytestmark = pytest.mark.slow

FAULTY = """
import os
import time

import torch

from vidssl import hookimpl


class FaultyClips:
    '''12 random clips; reading row ``crash_row`` kills the data worker, ``hang_row`` hangs it.'''

    classes = ["a", "b"]

    def __init__(self, views, crash_row=-1, hang_row=-1):
        self.crash_row, self.hang_row, self.excluded, self.epoch = crash_row, hang_row, set(), 0

    def __len__(self):
        return 12

    def __getitem__(self, index):
        for skipped in range(12):
            row = (index + skipped) % 12
            if row not in self.excluded:
                break
        if row == self.crash_row:
            os._exit(3)
        if row == self.hang_row:
            time.sleep(3600)
        clip = torch.randn(3, 4, 16, 16, generator=torch.Generator().manual_seed(row))
        return {"views": {"clip": clip}, "label": row % 2, "index": row, "skipped": skipped}

    def exclude(self, rows):
        self.excluded.update(rows)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def video_name(self, row):
        return f"clips/video_{row}.mp4"

    def label(self, row):
        return row % 2

    def frames(self, row):
        raise NotImplementedError


@hookimpl
def vidssl_register_datasets(register):
    register("faulty_clips", FaultyClips)
"""

CONFIG = """
backbone = dict(type='r3d', depth=10, width=0.125, stem_pool='1x3x3')
log = dict(interval=1, tensorboard=False, progress_bar=False)
stages = [dict(name='train', type='train', epochs=1, batch_size=2, num_workers=1,
               data_timeout_s=5, dataset=dict(type='faulty_clips', crash_row=5, hang_row=8),
               method=dict(type='supervised', num_classes=2),
               optimizer=dict(type='SGD', lr=0.01))]
"""


def test_a_worker_killed_or_hung_on_a_video_stops_naming_it_and_resume_goes_past(tmp_path):
    env = make_distribution(tmp_path, "faulty-plugin", "0.1", "faulty_plugin", FAULTY)
    config = tmp_path / "faulty.py"
    config.write_text(CONFIG)
    work = tmp_path / "run"
    command = ["vidssl-run", str(config), "--work-dir", str(work), "--resume"]
    stops = []
    for _ in range(2):  # the sampler's order decides which of the two comes first
        stopped = run_cli(*command, env=env, timeout=120)
        assert stopped.returncode == 1 and "Traceback" not in stopped.stderr, stopped.stderr
        stops.append(stopped.stderr.strip().splitlines()[-1])
    assert "1 videos left out as they broke a data worker earlier" in stopped.stderr
    assert all("the same command with --resume" in line for line in stops), stops
    assert any(
        "data worker 0 exited unexpectedly while reading clips/video_5.mp4" in line for line in stops
    ), stops
    assert any(
        re.search(
            r"data worker 0 produced nothing for \d+ s while reading "
            r"clips/video_8.mp4",
            line,
        )
        for line in stops
    ), stops
    finished = run_cli(*command, env=env, timeout=120)
    assert finished.returncode == 0, finished.stderr
    faults = (work / "unusable_videos" / "data_faults.tsv").read_text().splitlines()
    assert sorted(f.split("\t")[0] for f in faults) == ["clips/video_5.mp4", "clips/video_8.mp4"]
    epochs = [
        json.loads(line)
        for line in (work / "metrics.jsonl").read_text().splitlines()
        if '"event": "epoch"' in line
    ]
    assert [e["skipped_videos"] for e in epochs] == [2], "the epoch passed over both"


def mutate(data: bytes, rng: random.Random, kind: str) -> bytes:
    if kind == "truncate":
        return data[: rng.randrange(64, len(data))]
    out = bytearray(data)
    span = (0, min(4096, len(out))) if kind == "header" else (min(4096, len(out) - 1), len(out))
    for _ in range(rng.randrange(1, 16)):
        position = rng.randrange(*span)
        out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def encoded_videos(folder: Path) -> list[Path]:
    """Six short videos encoded as the dataset fixtures are: MPEG-4 part 2 in .avi (UCF101,
    HMDB51) and H.264 in .mp4 (Kinetics), both with B-frames."""
    from vidssl_datasets.fixtures import encode, render

    paths = []
    for seed in range(6):
        codec, suffix = ("mpeg4", ".avi") if seed % 2 else ("libx264", ".mp4")
        paths.append(folder / f"original_{seed}{suffix}")
        encode(paths[-1], render(seed, 24, (160, 120)), codec, 25)
    return paths


def test_mutated_real_videos_give_clips_skips_or_the_one_line_stop(tmp_path):
    originals = encoded_videos(tmp_path / "originals")
    rng = random.Random(0)
    videos = tmp_path / "videos"
    videos.mkdir()
    paths = []
    for i in range(54):
        source = originals[i % len(originals)]
        target = videos / f"v{i:02d}{source.suffix}"
        if i < 4:
            shutil.copy(source, target)  # some intact ones
        else:
            target.write_bytes(mutate(source.read_bytes(), rng, ("truncate", "header", "payload")[i % 3]))
        paths.append(target.name)
    config = tmp_path / "fuzz.py"
    config.write_text(f"""
backbone = dict(type='r3d', depth=10, width=0.125, stem_pool='1x3x3')
log = dict(interval=1, tensorboard=False, progress_bar=False)
_view = dict(clip_len=4, size=16, crop='center')
stages = [dict(name='fuzz', type='train', epochs=1, batch_size=2, num_workers=2,
               data_timeout_s=30,
               dataset=dict(type='video_files', root={str(videos)!r}, paths={paths!r},
                            view=_view, reader=dict(max_skipped=1.0)),
               method=dict(type='vtdl', queue_size=8, temporal_negative=False),
               optimizer=dict(type='SGD', lr=0.01))]
""")
    work = tmp_path / "run"
    for _attempt in range(6):
        result = run_cli("vidssl-run", str(config), "--work-dir", str(work), "--resume", timeout=300)
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        if result.returncode == 0:
            break
        assert result.returncode == 1 and "broke" not in result.stderr.splitlines()[-1]
        assert "while reading" in result.stderr.splitlines()[-1], result.stderr[-2000:]
    else:
        pytest.fail("the run did not get past the mutated videos in 6 attempts")
    epoch = [
        json.loads(line)
        for line in (work / "metrics.jsonl").read_text().splitlines()
        if '"event": "epoch"' in line
    ][-1]
    assert epoch.get("skipped_videos", 0) > 0, "the mutated copies are passed over, counted"
