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

The last line is ``ratio: X`` = vidssl's default backend / floor, worst kind (1.0 = the floor).

    python benchmarks/decode.py [--repeats 5] [--clips 8]
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

KINDS = {
    "UCF101-like 320×240 MPEG-4": dict(codec="mpeg4", size=(320, 240), fps=25, frames=180,
                                       options={}, gop=12),
    "Kinetics-like 340×256 H.264": dict(codec="libx264", size=(340, 256), fps=30, frames=300,
                                        options={"g": "60", "keyint_min": "60", "bf": "3",
                                                 "sc_threshold": "0"}, gop=60),
    "720p 1280×720 H.264": dict(codec="libx264", size=(1280, 720), fps=30, frames=300,
                                options={}, gop=None),
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


def encode(path: Path, codec: str, size: tuple[int, int], fps: int, frames: int,
           options: dict, gop: int | None) -> None:
    """A textured scene panning and a moving square, written with PyAV."""
    import av
    import numpy as np

    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    if gop:
        stream.codec_context.gop_size = gop
    stream.codec_context.options = options
    w, h = size
    rng = np.random.default_rng(0)
    texture = (rng.random((h // 8 + 1, (w + frames * 2) // 8 + 1, 3)) * 255).astype(np.uint8)
    texture = np.kron(texture, np.ones((8, 8, 1), np.uint8))
    for i in range(frames):
        image = np.ascontiguousarray(texture[:h, 2 * i:2 * i + w])
        x = (5 * i) % (w - h // 4)
        image[h // 3:h // 3 + h // 4, x:x + h // 4] = 255
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def available_peers() -> tuple[list[str], list[str]]:
    peers, missing = [], []
    for name, check in (("torchcodec", "from torchcodec.decoders import VideoDecoder"),
                        ("decord2", "import decord")):
        ok = subprocess.run([sys.executable, "-c", check], capture_output=True).returncode == 0
        (peers if ok else missing).append(name)
    return peers, missing


def measure(script: Path, reader: str, path: Path, starts: list[int]) -> dict:
    result = subprocess.run([sys.executable, str(script), reader, str(path), json.dumps(starts)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{reader} on {path.name}: {result.stderr.strip()[-400:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default 5)")
    parser.add_argument("--clips", type=int, default=8, help="clips per measurement (default 8)")
    args = parser.parse_args()
    import numpy as np

    peers, missing = available_peers()
    readers = ["full decode", "vidssl auto", "vidssl pyav", "vidssl opencv"]
    readers += ["vidssl torchcodec"] if "torchcodec" in peers else []
    readers += ["floor", *peers]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "worker.py"
        script.write_text(textwrap.dedent(WORKER))
        videos, starts = {}, {}
        for i, (kind, spec) in enumerate(KINDS.items()):
            videos[kind] = Path(tmp) / f"video{i}{'.avi' if spec['codec'] == 'mpeg4' else '.mp4'}"
            encode(videos[kind], **spec)
            rng = np.random.default_rng(i)
            starts[kind] = [int(s) for s in rng.integers(0, spec["frames"] - CLIP * STEP,
                                                         args.clips)]
        results = {(k, r): [] for k in KINDS for r in readers}
        for repeat in range(args.repeats):   # interleaved: every reader once per repeat
            for kind in KINDS:
                order = readers[repeat % len(readers):] + readers[:repeat % len(readers)]
                for reader in order:
                    results[(kind, reader)].append(measure(script, reader, videos[kind],
                                                           starts[kind]))
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    print(f"clip: {CLIP} frames every {STEP}th, 128 short side, 112² crop; median of "
          f"{args.repeats} interleaved repeats, {args.clips} clips each, one process per "
          f"measurement")
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
        fastest_peer = min((statistics.median(r["ms"] for r in results[(kind, p)]) for p in peers),
                           default=float("inf"))
        print(f"  vidssl {DEFAULT_BACKEND} / fastest peer: {default / fastest_peer:.2f}")
        worst = max(worst, default / floor)
    print(f"ratio: {worst:.2f}")


if __name__ == "__main__":
    main()
