"""The video index at the edges a large, shared, changing dataset reaches: videos that appear
after they were indexed missing, index files this process cannot write, appends cut by a crash
and the lock around them, files replaced by others of the same size and mtime, and samplers
that give no frames."""

from __future__ import annotations

import fcntl
import os

import numpy as np
import pytest

import vidssl
from vidssl import RunError, get_plugins
from vidssl._plugin_system.registry import Component
from vidssl_datasets import video_index
from vidssl_datasets.synthetic_motion import write_video
from vidssl_datasets.video_index import INDEX_NAME, VideoIndex
from vidssl_datasets.video_reader import probe


def video(path, frames: int, shade: int = 0) -> None:
    rng = np.random.default_rng(frames + shade)
    write_video(path, (rng.random((frames, 16, 16, 3)) * 255).astype(np.uint8))


def dataset(paths, **reader):
    """A ``video_list`` dataset (``path n_frames label`` lines) of ``paths`` under their folder,
    whose index lives in that folder."""
    root = paths[0].parent
    (root / "list.txt").write_text("".join(f"{p.name} 12 0\n" for p in paths))
    return vidssl.build(
        "dataset",
        {
            "type": "video_list",
            "root": str(root),
            "annotation": str(root / "list.txt"),
            "view": {"clip_len": 4, "size": 16},
            "reader": {"source": "video", **reader},
        },
        views={"clip": {}},
    )


def counting_probes(monkeypatch) -> list:
    probes = []
    monkeypatch.setattr(video_index, "probe", lambda path, *args: probes.append(path) or probe(path, *args))
    return probes


def test_a_video_missing_when_indexed_and_there_now_is_probed_again(tmp_path):
    """Known missing from an earlier index, downloaded since: usable, not counted as bad. (It was
    counted, so one more unreadable video out of ten passed reader.max_skipped=0.1.)"""
    paths = [tmp_path / f"v{i}.avi" for i in range(10)]
    for path in paths[:9]:
        video(path, 12, shade=paths.index(path))
    assert VideoIndex(tmp_path).build(paths) == {"ok": 9, "missing": 1}
    video(paths[9], 12)  # downloaded later
    paths[3].write_bytes(b"damaged since" * 50)  # and another one broke
    data = dataset(paths, max_skipped=0.1)
    items = [data[i] for i in range(10)]
    assert sum(item["skipped"] for item in items) == 1, "only the damaged one is skipped"
    assert VideoIndex(tmp_path).lookup(paths[9])["status"] == "ok"


def test_an_index_that_cannot_be_written_keeps_entries_in_memory(tmp_path, capfd, monkeypatch):
    """The index path exists but cannot be opened for writing (a directory stands in for another
    user's file, which root could still write): a warning once, reading goes on."""
    monkeypatch.setattr(video_index, "_UNWRITABLE", set(), raising=False)
    paths = [tmp_path / f"v{i}.avi" for i in range(3)]
    for i, path in enumerate(paths):
        video(path, 12, shade=i)
    (tmp_path / INDEX_NAME).mkdir()
    data = dataset(paths)
    assert [data[i]["views"]["clip"].shape[1] for i in range(3)] == [4, 4, 4]
    err = capfd.readouterr().err
    assert err.count(f"the video index {tmp_path / INDEX_NAME} cannot be written") == 1
    assert "keeps its entries in memory" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes a read-only file anyway")
def test_a_read_only_index_file_of_another_user(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(video_index, "_UNWRITABLE", set(), raising=False)
    video(tmp_path / "v.avi", 12)
    (tmp_path / INDEX_NAME).write_text("")
    (tmp_path / INDEX_NAME).chmod(0o444)
    assert VideoIndex(tmp_path).lookup(tmp_path / "v.avi")["status"] == "ok"
    assert "cannot be written" in capfd.readouterr().err


def test_a_line_cut_by_a_crash_does_not_swallow_the_next(tmp_path, monkeypatch):
    first, second = tmp_path / "a.avi", tmp_path / "b.avi"
    video(first, 12)
    video(second, 14)
    VideoIndex(tmp_path).lookup(first)
    with open(tmp_path / INDEX_NAME, "a") as f:
        f.write('{"path": "c.avi", "size": 12')  # a crash mid-append
    VideoIndex(tmp_path).lookup(second)
    probes = counting_probes(monkeypatch)
    index = VideoIndex(tmp_path)
    assert index.lookup(first)["n_frames"] == 12 and index.lookup(second)["n_frames"] == 14
    assert probes == [], "both complete lines are read back"


def test_the_lock_is_held_until_the_line_is_in_the_file(tmp_path, monkeypatch):
    """Only the lock keeps appends apart where O_APPEND is not honoured (NFS): the line must be in
    the file before the lock is released."""
    video(tmp_path / "a.avi", 12)
    released_with = []
    real = fcntl.flock

    def flock(fd, operation):
        if operation == fcntl.LOCK_UN:
            released_with.append((tmp_path / INDEX_NAME).read_text())
        return real(fd, operation)

    monkeypatch.setattr(video_index.fcntl, "flock", flock)
    VideoIndex(tmp_path).lookup(tmp_path / "a.avi")
    assert released_with and '"path": "a.avi"' in released_with[0]


def test_a_file_replaced_by_one_of_the_same_size_and_mtime_is_probed_again(tmp_path):
    """``cp -p`` / ``rsync -t`` of another video onto an indexed one: same size and mtime (the
    shorter video is padded to the other's size), another inode or ctime."""
    short, long = tmp_path / "short.avi", tmp_path / "long.avi"
    video(short, 30)
    video(long, 50)
    with open(short, "ab") as f:
        f.write(b"\0" * (long.stat().st_size - short.stat().st_size))
    assert short.stat().st_size == long.stat().st_size
    target = tmp_path / "clip.avi"
    os.link(short, target)
    mtime = target.stat().st_mtime_ns
    assert VideoIndex(tmp_path).lookup(target)["n_frames"] == 30
    target.unlink()
    os.link(long, target)
    os.utime(target, ns=(mtime, mtime))
    assert target.stat().st_size == short.stat().st_size and target.stat().st_mtime_ns == mtime
    assert VideoIndex(tmp_path).lookup(target)["n_frames"] == 50


class NoClips:
    """A sampler with a bug: no clip at all."""

    def starts(self, n, span, num_clips, rng):
        return []


def test_a_sampler_that_gives_no_frames_stops_naming_the_view_and_sampler(tmp_path):
    registry = get_plugins().registry
    if "no_clips" not in registry.names("transform"):
        registry.add(Component("transform", "no_clips", NoClips, {"type": "object"}, "tests", "0"))
    video(tmp_path / "v.avi", 12)
    data = vidssl.build(
        "dataset",
        {
            "type": "video_files",
            "paths": [str(tmp_path / "v.avi")],
            "view": {"clip_len": 4, "size": 16, "sampler": {"type": "no_clips"}},
        },
        views={"clip": {}},
    )
    with pytest.raises(
        RunError,
        match=r"views\.clip: sampler 'no_clips' gave no clip for video "
        r".*v\.avi, which has 12 frames; .*nothing was skipped",
    ):
        data[0]
