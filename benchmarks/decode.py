"""Clip decoding: ms per clip and peak memory of vidssl's partial reader (every backend) against
the physical floor and the decoders people use, on three kinds of generated video, in one run.

Videos (written by this script with PyAV): UCF101-like (320×240, 25 fps, 7.2 s, MPEG-4 part 2,
GOP 12), Kinetics-like (340×256, 30 fps, 10 s, H.264 with B-frames, a keyframe every 2 s) and
720p (1280×720, 30 fps, 10 s, H.264, x264's default keyframe interval). A clip is 16 frames
every 4th frame from a random start, resized to 128 short side and centre-cropped to 112².

Readers, each measured in a fresh subprocess (time per clip over ``--clips`` clips after one
untimed warm-up clip, and the growth of peak RSS over the process's size after its imports),
median of ``--repeats`` interleaved repeats. Every reader decodes with one thread, as each data
worker of a dataset does (``decode_threads=1``, OpenCV at one thread):

* ``full decode``: the reader vidssl had before (decode the whole video, keep 16 frames), context;
* ``vidssl <backend>``: ``read_clip`` with the video's index entry (as a dataset has it);
  ``auto`` (the default) is torchcodec where it is installed and exact for the file, else PyAV;
* ``floor``: PyAV seeks to the keyframe before the clip, decodes to its last frame and converts
  only the 16 frames it needs (the least work any frame-exact reader can do);
* peers: torchcodec (``seek_mode="exact"``, a decoder per clip as a dataset item would make it),
  decord2 (``VideoReader(...).get_batch``); a peer that is not installed is named as such.

Then two more measurements, each with its own summary line before the last:

* an item's read (``item ratio:``): every clip of the views a method asks for (VTDL: query, key at
  the same time, a negative elsewhere; MLFO: three parts of one span; the multi-clip test: 10
  uniform clips), read clip by clip as vidssl did before against one read of their union as it
  does now (:meth:`VideoDataset.load`); ms per item and frames decoded per item; the line gives
  the worse VTDL ratio of the UCF101-like and Kinetics-like videos;
* ``transcode`` (``transcode ratio:``): long-GOP files as downloaded (one keyframe in 10 s,
  340×256 and 720p) against their copies by :func:`~vidssl_datasets.transcode.transcode_video`
  (short side 256, a keyframe every 16 frames): ms per clip and clips/s on one core; the line
  gives the 720p file's speed-up.

The last line is ``ratio: X`` = vidssl's default backend / floor, worst kind (1.0 = the floor).

    python benchmarks/decode.py [--repeats 5] [--clips 8] [--items 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

KINDS = {
    "UCF101-like 320×240 MPEG-4": dict(
        codec="mpeg4", size=(320, 240), fps=25, frames=180, options={}, gop=12
    ),
    "Kinetics-like 340×256 H.264": dict(
        codec="libx264",
        size=(340, 256),
        fps=30,
        frames=300,
        options={"g": "60", "keyint_min": "60", "bf": "3", "sc_threshold": "0"},
        gop=60,
    ),
    "720p 1280×720 H.264": dict(codec="libx264", size=(1280, 720), fps=30, frames=300, options={}, gop=None),
}
DEFAULT_BACKEND = "auto"
CLIP, STEP = 16, 4

#: one subprocess: imports, then read --clips clips; prints {"ms": ..., "rss_mb": ...}
WORKER = """
    import json, resource, sys, time
    import cv2, numpy as np
    reader, path, starts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    CLIP, STEP = 16, 4
    cv2.setNumThreads(1)

    def finish(frames):
        h, w = frames.shape[1:3]
        scale = 128 / min(h, w)
        size = (max(128, round(w * scale)), max(128, round(h * scale)))
        out = []
        for f in frames:
            f = cv2.resize(f, size, interpolation=cv2.INTER_LINEAR)
            y, x = (f.shape[0] - 112) // 2, (f.shape[1] - 112) // 2
            out.append(f[y:y + 112, x:x + 112])
        return np.stack(out)

    if reader == "full decode":
        from vidssl_datasets.video_reader import read_video
        read = lambda ids: read_video(path, "opencv")[ids]
    elif reader.startswith("vidssl "):
        from vidssl_datasets.video_reader import _torchcodec_problem, probe, read_clip
        _torchcodec_problem()   # its import (when installed) belongs to the imports, as for the peer
        info, backend = probe(path), reader.split()[1]
        read = lambda ids: read_clip(path, ids, info, backend)
    elif reader == "floor":
        import av
        from vidssl_datasets.video_reader import probe
        info = probe(path)   # the keyframes, as any seeking reader must know them

        def read(ids):
            key_index, key_pts, key_dts = max(k for k in info.keyframes if k[0] <= ids[0])
            with av.open(path) as container:
                stream = container.streams.video[0]
                stream.thread_count = 1
                container.seek(key_dts, stream=stream, backward=True, any_frame=False)
                out, index, wanted = [], None, set(ids)
                for frame in container.decode(stream):
                    if index is None:
                        if frame.pts < key_pts:
                            continue
                        index = key_index
                    if index in wanted:
                        out.append(frame.to_ndarray(format="rgb24"))
                    if index == ids[-1]:
                        return np.stack(out)
                    index += 1
    elif reader == "torchcodec":
        from torchcodec.decoders import VideoDecoder
        read = lambda ids: VideoDecoder(path, seek_mode="exact", num_ffmpeg_threads=1).get_frames_at(
            ids).data.permute(0, 2, 3, 1).numpy()
    elif reader == "decord2":
        import decord
        read = lambda ids: decord.VideoReader(path, num_threads=1).get_batch(ids).asnumpy()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finish(read(list(range(0, CLIP * STEP, STEP))))   # warm-up: first-use costs are not timed
    started = time.perf_counter()
    for start in starts:
        clip = finish(read(list(range(start, start + CLIP * STEP, STEP))))
        assert clip.shape == (CLIP, 112, 112, 3)
    seconds = time.perf_counter() - started
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(json.dumps({"ms": 1000 * seconds / len(starts), "rss_mb": growth}))
"""


#: one subprocess: --items items of a method's view set read clip by clip (as before) or in one
#: read of their union (now); prints {"ms": per item, "frames": decoded per item (PyAV's reader)}
ITEM = """
    import json, sys, time
    from vidssl_datasets import video_reader
    from vidssl_datasets.video_reader import _torchcodec_problem, probe, read_clip
    from vidssl_datasets.view import frame_indices, make_view_specs
    how, path, views, items = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
    _torchcodec_problem()
    info = probe(path)
    specs = make_view_specs({"clip_len": 16, "stride": 4, "size": 112}, views, "item")
    plans = [frame_indices(specs, info.n_frames, np.random.default_rng([7, i])) for i in range(items)]

    def read(plan, backend):
        clips = [ids for view in plan.values() for ids in view]
        if how == "clips":
            return [read_clip(path, ids, info, backend) for ids in clips]
        union = sorted({i for ids in clips for i in ids})
        frames, at = read_clip(path, union, info, backend), {i: k for k, i in enumerate(union)}
        return [frames[[at[i] for i in ids]] for ids in clips]

    counted, decode = [0], video_reader.decoded_frames
    def counting(*args, **kwargs):
        for frame in decode(*args, **kwargs):
            counted[0] += 1
            yield frame
    video_reader.decoded_frames = counting
    for plan in plans:
        read(plan, "pyav")
    video_reader.decoded_frames = decode
    for plan in plans:   # warm-up: a decoder's first calls in a process cost far more
        read(plan, "auto")
    started = time.perf_counter()
    for plan in plans:
        read(plan, "auto")
    print(json.dumps({"ms": 1000 * (time.perf_counter() - started) / items,
                      "frames": counted[0] / items}))
"""

#: the view sets an item is read for: VTDL's and MLFO's (as their methods ask) and the
#: multi-clip test protocol's
VIEW_SETS = {
    "VTDL": {
        "query": {},
        "key": {"same_time_as": "query"},
        "negative": {"different_time_from": "query", "min_gap": 2},
    },
    "MLFO": {
        "first": {"part": "first", "rate_max": 2.0},
        "second": {"part": "second", "same_time_as": "first"},
        "global": {"part": "global", "same_time_as": "first"},
    },
    "multi-clip test": {"clip": {"sampler": "uniform", "num_clips": 10}},
}
#: long-GOP files as downloaded (one keyframe in 10 s), timed before and after transcode; their
#: scene is the same at every size (squares of a 30th of the height, blurred, panning a 240th of
#: it a frame): the 8-pixel grid of the clip rows is predicted perfectly at its own size and not
#: at all once scaled, which no camera footage does
LONG_GOP = {
    "Kinetics-like 340×256 H.264, one keyframe": dict(
        codec="libx264",
        size=(340, 256),
        fps=30,
        frames=300,
        gop=None,
        block=9,
        pan=1,
        smooth=True,
        options={"g": "300", "keyint_min": "300", "bf": "3", "sc_threshold": "0"},
    ),
    "720p 1280×720 H.264, one keyframe": dict(
        codec="libx264",
        size=(1280, 720),
        fps=30,
        frames=300,
        gop=None,
        block=24,
        pan=3,
        smooth=True,
        options={"g": "300", "keyint_min": "300", "bf": "3", "sc_threshold": "0"},
    ),
}


def encode(
    path: Path,
    codec: str,
    size: tuple[int, int],
    fps: int,
    frames: int,
    options: dict,
    gop: int | None,
    block: int = 8,
    pan: int = 2,
    smooth: bool = False,
) -> None:
    """A textured scene (random colours in ``block``-pixel squares, blurred with ``smooth``)
    panning ``pan`` pixels a frame and a moving square, written with PyAV."""
    import av  # noqa: PLC0415 -- lazy: start-up
    import cv2  # noqa: PLC0415 -- lazy: start-up

    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    if gop:
        stream.codec_context.gop_size = gop
    stream.codec_context.options = options
    w, h = size
    rng = np.random.default_rng(0)
    texture = (rng.random((h // block + 1, (w + frames * pan) // block + 1, 3)) * 255).astype(np.uint8)
    texture = np.kron(texture, np.ones((block, block, 1), np.uint8))
    if smooth:
        texture = cv2.GaussianBlur(texture, (0, 0), block / 3)
    for i in range(frames):
        image = np.ascontiguousarray(texture[:h, pan * i : pan * i + w])
        x = (5 * i) % (w - h // 4)
        image[h // 3 : h // 3 + h // 4, x : x + h // 4] = 255
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def available_peers() -> tuple[list[str], list[str]]:
    peers, missing = [], []
    for name, check in (
        ("torchcodec", "from torchcodec.decoders import VideoDecoder"),
        ("decord2", "import decord"),
    ):
        ok = subprocess.run([sys.executable, "-c", check], capture_output=True).returncode == 0
        (peers if ok else missing).append(name)
    return peers, missing


def measure(script: Path, reader: str, path: Path, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(script), reader, str(path), *args], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{reader} on {path.name}: {result.stderr.strip()[-400:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def item_rows(tmp: Path, videos: dict[str, Path], repeats: int, items: int) -> float:
    """Print per-item read cost, clip by clip against one read of the union, for every view set
    on the UCF101-like and Kinetics-like videos; return the worst ratio for VTDL."""
    script = tmp / "item.py"
    script.write_text(textwrap.dedent(ITEM))
    kinds = [k for k in KINDS if not k.startswith("720p")]
    runs = {(k, v, how): [] for k in kinds for v in VIEW_SETS for how in ("clips", "union")}
    for _repeat in range(repeats):
        for key in runs:
            kind, views, how = key
            runs[key].append(measure(script, how, videos[kind], json.dumps(VIEW_SETS[views]), str(items)))
    print(
        f"\nitem read: every clip of an item's views (16 frames every 4th), clip by clip (as "
        f"before) / one read of their union (now); ms per item with vidssl auto, frames "
        f"decoded per item by its PyAV reader; median of {repeats}, {items} items each"
    )
    print(f"  {'video':<30}{'view set':<18}{'clip by clip':>22}{'one read':>20}{'ratio':>8}")
    worst = float("inf")
    for kind in kinds:
        for views in VIEW_SETS:
            before, after = (
                {f: statistics.median(r[f] for r in runs[(kind, views, how)]) for f in ("ms", "frames")}
                for how in ("clips", "union")
            )
            ratio = before["ms"] / after["ms"]
            print(
                f"  {kind[:28]:<30}{views:<18}{before['ms']:9.1f} ms {before['frames']:5.0f} fr"
                f"{after['ms']:9.1f} ms {after['frames']:5.0f} fr{ratio:8.2f}"
            )
            if views == "VTDL":
                worst = min(worst, ratio)
    print(f"item ratio: {worst:.2f}")
    return worst


def transcode_rows(tmp: Path, script: Path, repeats: int, clips: int) -> float:
    """Print clip cost before and after ``transcode`` (short side 256, a keyframe every 16
    frames) on long-GOP files; return the 720p file's speed-up."""

    from vidssl_datasets.transcode import transcode_video  # noqa: PLC0415 -- lazy: start-up

    runs, speedup = {}, 0.0
    for i, (kind, spec) in enumerate(LONG_GOP.items()):
        source, dense = tmp / f"long{i}.mp4", tmp / f"dense{i}.mp4"
        encode(source, **spec)
        transcode_video(source, dense)
        starts = [
            int(s) for s in np.random.default_rng(10 + i).integers(0, spec["frames"] - CLIP * STEP, clips)
        ]
        runs[kind] = {"before": [], "after": []}
        for _ in range(repeats):
            runs[kind]["before"].append(measure(script, "vidssl auto", source, json.dumps(starts)))
            runs[kind]["after"].append(measure(script, "vidssl auto", dense, json.dumps(starts)))
    print(
        "\ntranscode (short side 256, a keyframe every 16 frames): vidssl auto, ms per clip "
        "and clips/s on one core, before / after"
    )
    for kind in LONG_GOP:
        before, after = (statistics.median(r["ms"] for r in runs[kind][w]) for w in ("before", "after"))
        print(
            f"  {kind:<46}{before:8.1f} ms {1000 / before:6.1f}/s{after:8.1f} ms "
            f"{1000 / after:6.1f}/s{before / after:8.2f}×"
        )
        if kind.startswith("720p"):
            speedup = before / after
    print(f"transcode ratio: {speedup:.2f}")
    return speedup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default 5)")
    parser.add_argument("--clips", type=int, default=8, help="clips per measurement (default 8)")
    parser.add_argument("--items", type=int, default=8, help="items per item measurement (default 8)")
    args = parser.parse_args()

    peers, missing = available_peers()
    readers = ["full decode", "vidssl auto", "vidssl pyav", "vidssl opencv"]
    readers += ["vidssl torchcodec"] if "torchcodec" in peers else []
    readers += ["floor", *peers]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        script = tmp / "worker.py"
        script.write_text(textwrap.dedent(WORKER))
        videos, starts = {}, {}
        for i, (kind, spec) in enumerate(KINDS.items()):
            videos[kind] = tmp / f"video{i}{'.avi' if spec['codec'] == 'mpeg4' else '.mp4'}"
            encode(videos[kind], **spec)
            rng = np.random.default_rng(i)
            starts[kind] = [int(s) for s in rng.integers(0, spec["frames"] - CLIP * STEP, args.clips)]
        results = {(k, r): [] for k in KINDS for r in readers}
        for repeat in range(args.repeats):  # interleaved: every reader once per repeat
            for kind in KINDS:
                order = readers[repeat % len(readers) :] + readers[: repeat % len(readers)]
                for reader in order:
                    results[(kind, reader)].append(
                        measure(script, reader, videos[kind], json.dumps(starts[kind]))
                    )
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
        worst = report_clips(results, readers, peers, missing, args)
        item_rows(tmp, videos, args.repeats, args.items)
        transcode_rows(tmp, script, args.repeats, args.clips)
    print(f"ratio: {worst:.2f}")


def report_clips(
    results: dict, readers: list[str], peers: list[str], missing: list[str], args: argparse.Namespace
) -> float:
    """Print the clip table; return vidssl's default backend / floor, worst kind."""
    print(
        f"clip: {CLIP} frames every {STEP}th, 128 short side, 112² crop; median of "
        f"{args.repeats} interleaved repeats, {args.clips} clips each, one process per "
        f"measurement"
    )
    if missing:
        print(f"peers not installed (not measured): {', '.join(missing)}")
    worst = 0.0
    for kind in KINDS:
        floor = statistics.median(r["ms"] for r in results[(kind, "floor")])
        print(f"\n{kind}")
        print(f"  {'reader':<20}{'ms/clip':>9}{'vs floor':>10}{'peak RSS +MB':>14}")
        for reader in readers:
            ms = statistics.median(r["ms"] for r in results[(kind, reader)])
            rss = statistics.median(r["rss_mb"] for r in results[(kind, reader)])
            print(f"  {reader:<20}{ms:9.1f}{ms / floor:10.2f}{rss:14.0f}")
        default = statistics.median(r["ms"] for r in results[(kind, f"vidssl {DEFAULT_BACKEND}")])
        fastest_peer = min(
            (statistics.median(r["ms"] for r in results[(kind, p)]) for p in peers), default=float("inf")
        )
        print(f"  vidssl {DEFAULT_BACKEND} / fastest peer: {default / fastest_peer:.2f}")
        worst = max(worst, default / floor)
    return worst


if __name__ == "__main__":
    main()
