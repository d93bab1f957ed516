"""Reading frames from video files (PyAV, OpenCV or torchcodec) and from frame folders.

:func:`read_clip` is asked for frame indices and returns exactly those frames, ``T×H×W×3`` uint8
RGB: it seeks to the keyframe at or before the first one and decodes up to the last one, seeking
again over any gap that spans a keyframe, never the rest of the file, keeping only the frames asked
for. Index ``i`` means the ``i``-th frame a full sequential decode returns. The keyframes and the
frame count come from :func:`probe` (kept in the dataset's :mod:`~vidssl_datasets.video_index`): a
scan of the container's packets, no decoding, checked by decoding the last group of pictures; a file
whose packets do not add up (a truncated or lying container) is counted by decoding it whole.

Backends:

* ``auto`` (default): ``torchcodec`` where it is installed and exact for the file, else ``pyav``
  (the fastest frame-exact reader here: ``benchmarks/decode.py``);
* ``pyav``: seeks by the keyframe's timestamp, counts frames from it, converts only the frames
  asked for;
* ``opencv``: seeks by frame position to the keyframe on constant-rate files and grabs (without
  converting) up to the last frame asked for; on variable-rate files, where OpenCV's frame
  positions are not frames, it grabs from the start (exact, but the cost is the span from 0);
* ``torchcodec`` (optional, needs FFmpeg's shared libraries): its exact seek mode. It returns
  other frames than a full decode on MPEG-4 part 2 files with B-frames (reordered frames; seen
  on AVI), so ``auto`` does not use it there.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from vidssl import ConfigError, DataError, RunError

Backend = Literal["auto", "pyav", "opencv", "torchcodec"]


@dataclass(frozen=True)
class VideoInfo:
    """A video file as the index knows it: ``n_frames`` (what a full decode returns), frame rate,
    frame size (pixels), the stream's ``time_base`` (num, den), whether frames are evenly spaced,
    the codec's name and whether frames are stored out of presentation order (B-frames),
    and ``keyframes``: (frame index, pts, dts) of each keyframe, in presentation order (``dts`` is
    what demuxers seek by; ``None`` where the file is only read from its start)."""

    n_frames: int
    fps: float
    width: int
    height: int
    time_base: tuple[int, int]
    constant_rate: bool
    keyframes: tuple[tuple[int, int, int | None], ...]
    codec: str = ""
    reordered: bool = False

    def keyframe_before(self, index: int) -> tuple[int, int, int | None]:
        """(frame index, pts, dts) of the last keyframe at or before frame ``index``."""
        best = self.keyframes[0]
        for key in self.keyframes:
            if key[0] > index:
                break
            best = key
        return best

    def to_json(self) -> dict[str, Any]:
        return {
            "n_frames": self.n_frames,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "time_base": list(self.time_base),
            "constant_rate": self.constant_rate,
            "keyframes": [list(k) for k in self.keyframes],
            "codec": self.codec,
            "reordered": self.reordered,
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> VideoInfo:
        return cls(
            entry["n_frames"],
            entry["fps"],
            entry["width"],
            entry["height"],
            tuple(entry["time_base"]),
            entry["constant_rate"],
            tuple(tuple(k) for k in entry["keyframes"]),
            entry.get("codec", ""),
            entry.get("reordered", False),
        )


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"video not found: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"video {path} is empty (0 bytes)")


#: how much of a video :func:`probe` decodes: the first frame (its packets give the rest), the
#: last group of pictures (so the frame count is checked), or every frame
ProbeDecode = Literal["first", "last_gop", "all"]


def probe(path: str | Path, decode: ProbeDecode = "last_gop") -> VideoInfo:
    """Frame count, rate, size and keyframes of a video file from its packets, checked by
    decoding (``decode``): its first frame, its last group of pictures (the default) or all of
    it; counted by a full decode when the packets and the decoder disagree. ``first`` is what a
    long-GOP file can afford (the last group of pictures of a video with one keyframe is all of
    it); a count it gets wrong shows when a read fails, and the dataset then probes that video
    again with ``all``. Raises :class:`DataError` if the file yields no frame."""
    import av  # noqa: PLC0415 -- lazy: start-up

    path = Path(path)
    _check_file(path)
    check = {"first": _decodes_first, "last_gop": _decodes_to_end, "all": _decodes_all}[decode]
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            packets = [
                (p.pts, p.dts, p.is_keyframe) for p in container.demux(stream) if p.size and p.pts is not None
            ]
            info = _info_from_packets(stream, packets)
            if info is not None and check(container, stream, info):
                return info
        with av.open(str(path)) as container:  # the packets do not add up: count by decoding
            stream = container.streams.video[0]
            frames = [(f.pts, None, False) for f in decoded_frames(container, stream)]
            info = _info_from_packets(stream, frames, decoded=True)
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise DataError(f"video {path} could not be decoded ({type(exc).__name__}: {exc})") from None
    if info is None:
        raise DataError(f"video {path} could not be decoded (no frame read; corrupt or truncated file?)")
    return info


def _info_from_packets(
    stream: Any, packets: list[tuple[int | None, int | None, bool]], decoded: bool = False
) -> VideoInfo | None:
    """The info from (pts, dts, keyframe) of packets, or, ``decoded``, of the frames a full
    decode returned (then the only keyframe is the start: such a file is read from it)."""
    if not packets or any(p is None for p, _, _ in packets):
        return None
    order = sorted(p for p, _, _ in packets) if not decoded else [p for p, _, _ in packets]
    rank = {pts: i for i, pts in enumerate(order)}
    keyframes = tuple(sorted((rank[p], p, d) for p, d, key in packets if key and d is not None))
    if decoded:
        keyframes = ((0, order[0], None),)
    elif not keyframes or keyframes[0][0] != 0:
        return None
    steps = np.diff(order)
    rate = stream.average_rate or stream.guessed_rate
    in_decode_order = [p for p, _, _ in packets]
    return VideoInfo(
        len(order),
        float(rate) if rate else 0.0,
        stream.codec_context.width,
        stream.codec_context.height,
        (stream.time_base.numerator, stream.time_base.denominator),
        bool(len(steps) == 0 or steps.min() == steps.max()),
        keyframes,
        stream.codec_context.name,
        in_decode_order != order,
    )


def _decodes_to_end(container: Any, stream: Any, info: VideoInfo) -> bool:
    """Whether decoding from the last keyframe yields exactly the frames the packets promise
    (``False`` when a packet there does not decode)."""
    key_index, key_pts, key_dts = info.keyframes[-1]
    container.seek(key_dts, stream=stream, backward=True, any_frame=False)
    count, started = 0, False
    try:
        for frame in decoded_frames(container, stream, strict=True):
            if frame.pts is None:
                return False
            if not started and frame.pts < key_pts:
                continue
            if not started and frame.pts != key_pts:
                return False
            started = True
            count += 1
    except ValueError:
        return False
    return count == info.n_frames - key_index


def _decodes_first(container: Any, stream: Any, info: VideoInfo) -> bool:
    """Whether the first frame decodes and is the first keyframe."""
    container.seek(info.keyframes[0][2], stream=stream, backward=True, any_frame=False)
    try:
        first = next(iter(decoded_frames(container, stream, strict=True)), None)
    except ValueError:
        return False
    return first is not None and first.pts == info.keyframes[0][1]


def _decodes_all(container: Any, stream: Any, info: VideoInfo) -> bool:
    """Whether a full decode yields exactly the frames the packets promise."""
    container.seek(info.keyframes[0][2], stream=stream, backward=True, any_frame=False)
    try:
        return sum(1 for _ in decoded_frames(container, stream, strict=True)) == info.n_frames
    except ValueError:
        return False


def decoded_frames(container: Any, stream: Any, strict: bool = False) -> Any:
    """Frames of ``stream`` until its end or, unless ``strict``, until the first packet that does
    not decode (a damaged tail: the frames before it stand, as a sequential decode returns them).
    With ``strict`` a damaged packet ends the iteration with ``ValueError``."""
    import av  # noqa: PLC0415 -- lazy: start-up

    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        if strict:
            raise ValueError(f"undecodable packet: {exc}") from None


def read_clip(
    path: str | Path, indices: Sequence[int], info: VideoInfo, backend: Backend = "pyav", threads: int = 1
) -> np.ndarray:
    """Frames ``indices`` (0-based, any order, repeats allowed) of a video file →
    ``len(indices)×H×W×3`` uint8 RGB, decoding from the keyframe before the first of them to the
    last of them and seeking over every gap that spans a keyframe (so the clips of one item are
    read in one call: spans that overlap or lie in one group of pictures are decoded once); no
    other call on the file. Raises :class:`DataError` naming the file if it cannot be read
    (``video not found`` where it is gone)."""
    path = Path(path)
    wanted = sorted(set(indices))
    if not wanted:
        raise RunError(f"video {path}: read_clip was asked for no frame")
    if wanted[0] < 0 or wanted[-1] >= info.n_frames:
        raise DataError(
            f"video {path}: frames {wanted[0]}..{wanted[-1]} asked for, it has "
            f"{info.n_frames} (the file changed since it was indexed?)"
        )
    if backend == "auto":
        backend = "torchcodec" if torchcodec_is_exact(info) else "pyav"
    read = {"pyav": _clip_pyav, "opencv": _clip_opencv, "torchcodec": _clip_torchcodec}[backend]
    try:  # the file is not looked up first (a dataset checked it at start-up): only on failure
        frames = read(path, wanted, info, threads)
    except DataError:
        _check_file(path)
        raise
    if isinstance(frames, np.ndarray):  # a batch in ``wanted`` order (torchcodec)
        return frames if list(indices) == wanted else frames[np.searchsorted(wanted, indices)]
    missing = [i for i in wanted if i not in frames]
    if missing:
        _check_file(path)
        raise DataError(
            f"video {path}: frames {missing[:5]} could not be decoded (corrupt or truncated file?)"
        )
    return np.stack([frames[i] for i in indices])


def _clip_pyav(path: Path, wanted: list[int], info: VideoInfo, threads: int) -> dict[int, np.ndarray]:
    import av  # noqa: PLC0415 -- lazy: start-up

    out: dict[int, np.ndarray] = {}
    keep = set(wanted)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_count = threads
            if threads > 1:
                stream.thread_type = "AUTO"
            position, frames, key_pts = None, None, 0
            for target in wanted:
                key_index, pts, dts = info.keyframe_before(target)
                if position is None or key_index > position:  # seek instead of decoding a gap
                    if dts is not None:
                        container.seek(dts, stream=stream, backward=True, any_frame=False)
                    frames, position, key_pts = decoded_frames(container, stream), None, pts
                while position is None or position <= target:
                    frame = next(frames, None)
                    if frame is None:
                        return out
                    if position is None:  # frames before the keyframe (open GOP) are skipped
                        if frame.pts is not None and frame.pts < key_pts:
                            continue
                        if frame.pts != key_pts:
                            raise DataError(
                                f"video {path}: seeking to the keyframe at pts "
                                f"{key_pts} landed on pts {frame.pts}"
                            )
                        position = key_index
                    if position in keep:
                        out[position] = frame.to_ndarray(format="rgb24")
                    position += 1
    except (av.FFmpegError, IndexError) as exc:
        raise DataError(f"video {path} could not be decoded ({type(exc).__name__}: {exc})") from None
    return out


def _clip_opencv(path: Path, wanted: list[int], info: VideoInfo, threads: int) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out: dict[int, np.ndarray] = {}
    seekable = info.constant_rate and info.keyframes[-1][2] is not None
    keep = set(wanted)
    try:
        position = 0  # the frame the next grab returns
        for target in wanted:
            key_index = info.keyframe_before(target)[0] if seekable else 0
            if key_index > position:  # seek instead of decoding a gap
                cap.set(cv2.CAP_PROP_POS_FRAMES, key_index)
                position = key_index
            while position <= target:
                if not cap.grab():
                    return out
                if position in keep:
                    ok, frame = cap.retrieve()
                    if ok:
                        out[position] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                position += 1
    finally:
        cap.release()
    return out


@functools.cache
def _torchcodec_problem() -> str | None:
    """Why torchcodec cannot be used in this process, or ``None`` when it can."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401, PLC0415 -- lazy: optional dependency
    except (ImportError, RuntimeError, OSError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def torchcodec_is_exact(info: VideoInfo) -> bool:
    """Whether torchcodec is installed and returns a full decode's frames for this file (not
    for MPEG-4 part 2 with reordered frames)."""
    return _torchcodec_problem() is None and not (info.codec == "mpeg4" and info.reordered)


def _clip_torchcodec(path: Path, wanted: list[int], info: VideoInfo, threads: int) -> np.ndarray:
    problem = _torchcodec_problem()
    if problem is not None:
        raise ConfigError(
            f"backend 'torchcodec' is not usable here ({problem}): pip install "
            f"torchcodec and FFmpeg's shared libraries (apt-get install ffmpeg), "
            f"or use backend 'auto' or 'pyav'"
        )
    from torchcodec.decoders import VideoDecoder  # noqa: PLC0415 -- lazy: optional dependency

    try:
        decoder = VideoDecoder(str(path), seek_mode="exact", num_ffmpeg_threads=threads)
        return decoder.get_frames_at(wanted).data.permute(0, 2, 3, 1).numpy()
    except (RuntimeError, ValueError, IndexError) as exc:
        raise DataError(f"video {path} could not be decoded ({exc})") from None


def read_video(path: str | Path, backend: Literal["opencv", "pyav"] = "opencv") -> np.ndarray:
    """Decode every frame of a video file → ``T×H×W×3`` uint8 RGB. A file that does not open or
    yields no frame raises :class:`DataError` naming it."""
    return np.stack(list(iter_video(path, backend)))


def iter_video(path: str | Path, backend: Literal["opencv", "pyav"] = "pyav") -> Iterator[np.ndarray]:
    """Every frame of a video file in order, each ``H×W×3`` uint8 RGB, decoded as it is consumed
    (memory: one frame and the decoder's state, whatever the length). A file that does not open
    or yields no frame, or changes frame size mid-stream, raises :class:`DataError` naming it."""
    path = Path(path)
    _check_file(path)
    frames = _iter_pyav(path) if backend == "pyav" else _iter_opencv(path)
    first = next(frames, None)
    if first is None:
        raise DataError(f"video {path} could not be decoded (no frame read; corrupt or truncated file?)")
    yield first
    for frame in frames:
        if frame.shape != first.shape:
            raise DataError(f"video {path} changes frame size mid-stream ({first.shape} to {frame.shape})")
        yield frame


def _iter_opencv(path: Path) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _iter_pyav(path: Path) -> Iterator[np.ndarray]:
    import av  # noqa: PLC0415 -- lazy: start-up

    try:
        with av.open(str(path)) as container:
            for frame in decoded_frames(container, container.streams.video[0]):
                yield frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, IndexError):
        return


def read_frames(
    folder: str | Path, indices: Sequence[int], pattern: str = "image_{:05d}.jpg", first: int = 1
) -> np.ndarray:
    """Read frames ``indices`` (0-based) from a frame folder named by ``pattern`` with the first
    file numbered ``first`` → ``len(indices)×H×W×3`` uint8 RGB."""
    folder = Path(folder)
    out, cache = [], {}
    for i in indices:
        if i not in cache:
            file = folder / pattern.format(i + first)
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                raise DataError(f"frame {file} is missing or unreadable")
            cache[i] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        out.append(cache[i])
    return np.stack(out)


def count_frames(folder: str | Path, pattern: str = "image_{:05d}.jpg", first: int = 1) -> int:
    """Frames in a folder: the ``n_frames`` file if present, else the number of consecutive
    files from ``first``."""
    folder = Path(folder)
    n_file = folder / "n_frames"
    if n_file.is_file():
        return int(n_file.read_text().split()[0])
    names = set(os.listdir(folder)) if folder.is_dir() else set()
    n = 0
    while pattern.format(n + first) in names:
        n += 1
    return n
