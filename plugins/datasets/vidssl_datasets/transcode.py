"""Re-encoding a video for training: smaller frames and a keyframe every few frames, so that a clip
decodes few frames it does not keep (``vidssl-prepare transcode``).

Videos as users download them (Kinetics from YouTube: 720p and more, keyframes seconds apart) make
every clip decode from a keyframe far before it; mmaction2's answer, followed here, is to re-encode
a dataset once: H.264, the short side at 256 pixels, a keyframe every 16 frames. Every frame of
the source (as a full sequential decode returns them) becomes one frame of the copy, in order, at
the source's average rate; the file keeps its name and container (UCF101's lists name ``.avi``
files: H.264 in AVI is fine), so annotation files stay valid. No B-frames: every packet is a frame
in presentation order, which any container and reader takes.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from vidssl import DataError
from vidssl_datasets.video_reader import decoded_frames


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """``(width, height)`` with the shorter side at ``short_side`` pixels (never enlarged), the
    aspect kept, both even (H.264 in 4:2:0 needs even sizes)."""
    scale = min(1.0, short_side / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def transcode_video(source: Path, target: Path, short_side: int = 256, gop: int = 16, crf: int = 23) -> int:
    """Re-encode ``source`` into ``target`` (the container its suffix names): H.264, the short
    side at ``short_side``, a keyframe exactly every ``gop`` frames, quality ``crf`` (x264's
    constant rate factor: 23 is its default, lower is better). Written to a ``.partial`` file
    renamed when complete. Returns the number of frames; :class:`DataError` naming the file if
    the source cannot be decoded."""
    import av  # noqa: PLC0415 -- lazy: start-up

    partial = target.with_name(f".{target.name}.partial{target.suffix}")
    partial.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        with av.open(str(source)) as reader, av.open(str(partial), "w") as writer:
            video = reader.streams.video[0]
            rate = video.average_rate or video.guessed_rate or 25
            width, height = scaled_size(video.codec_context.width, video.codec_context.height, short_side)
            stream = writer.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.options = {
                "g": str(gop),
                "keyint_min": str(gop),
                "sc_threshold": "0",
                "bf": "0",
                "crf": str(crf),
                "preset": "veryfast",
            }
            for frame in decoded_frames(reader, video):  # as a sequential decode returns them
                scaled = frame.reformat(width=width, height=height, format="yuv420p")
                scaled.pts, scaled.time_base = count, 1 / Fraction(rate)
                for packet in stream.encode(scaled):
                    writer.mux(packet)
                count += 1
            for packet in stream.encode():
                writer.mux(packet)
    except (av.FFmpegError, IndexError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"video {source} could not be transcoded ({type(exc).__name__}: {exc})") from None
    if count == 0:
        partial.unlink(missing_ok=True)
        raise DataError(f"video {source} could not be transcoded (no frame decoded)")
    os.replace(partial, target)
    return count
