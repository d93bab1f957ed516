"""Tiny copies of the real datasets in their official layouts (``vidssl-prepare fixtures``): a
way to try every config without the data, and what the tests run the configs on.

Each keeps its dataset's number of classes (UCF101 101, HMDB51 51, Kinetics-400 400,
Something-Something V1 174, so the configs' heads fit), a few short videos per class whose
content moves (synthetic_motion's renderer), the official file names and annotation formats with
their quirks, and the damage every real copy has: one corrupt and one zero-byte video, Kinetics
videos listed but absent, an empty Something-Something frame folder. Class names are the official
ones for UCF101 and HMDB51; Kinetics-400 and Something-Something V1 get a few official names and
numbered placeholders with the same punctuation (spaces, parentheses, commas).

Layouts under ``DATA_ROOT`` (what the configs' ``{data_root}`` paths expect):

* ``ucf101/UCF-101/<Class>/v_<Class>_gNN_cNN.avi`` (MPEG-4 part 2 with B-frames, like XviD,
  320×240, 25 fps; ``HandStandPushups`` files under ``HandstandPushups``) and
  ``ucf101/ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt`` (CRLF line ends);
* ``hmdb51/videos/<class>/<name>.avi`` and ``hmdb51/splits/<class>_test_split{1,2,3}.txt``;
* ``kinetics400/{train,val}/<label>/<ytid>_<start:06d>_<end:06d>.mp4`` (H.264 with B-frames,
  340×256, three at 1280×720) and ``kinetics400/annotations/{train,validate}.csv``;
* ``something_v1/20bn-something-something-v1/<id>/00001.jpg`` and the ``;``-separated CSVs.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from vidssl_datasets import synthetic_motion as sm

UCF101_CLASSES = """ApplyEyeMakeup ApplyLipstick Archery BabyCrawling BalanceBeam BandMarching
BaseballPitch Basketball BasketballDunk BenchPress Biking Billiards BlowDryHair BlowingCandles
BodyWeightSquats Bowling BoxingPunchingBag BoxingSpeedBag BreastStroke BrushingTeeth CleanAndJerk
CliffDiving CricketBowling CricketShot CuttingInKitchen Diving Drumming Fencing FieldHockeyPenalty
FloorGymnastics FrisbeeCatch FrontCrawl GolfSwing Haircut Hammering HammerThrow HandstandPushups
HandstandWalking HeadMassage HighJump HorseRace HorseRiding HulaHoop IceDancing JavelinThrow
JugglingBalls JumpingJack JumpRope Kayaking Knitting LongJump Lunges MilitaryParade Mixing
MoppingFloor Nunchucks ParallelBars PizzaTossing PlayingCello PlayingDaf PlayingDhol PlayingFlute
PlayingGuitar PlayingPiano PlayingSitar PlayingTabla PlayingViolin PoleVault PommelHorse PullUps
Punch PushUps Rafting RockClimbingIndoor RopeClimbing Rowing SalsaSpin ShavingBeard Shotput
SkateBoarding Skiing Skijet SkyDiving SoccerJuggling SoccerPenalty StillRings SumoWrestling
Surfing Swing TableTennisShot TaiChi TennisSwing ThrowDiscus TrampolineJumping Typing UnevenBars
VolleyballSpiking WalkingWithDog WallPushups WritingOnBoard YoYo""".split()
HMDB51_CLASSES = """brush_hair cartwheel catch chew clap climb climb_stairs dive draw_sword
dribble drink eat fall_floor fencing flic_flac golf handstand hit hug jump kick kick_ball kiss
laugh pick pour pullup punch push pushup ride_bike ride_horse run shake_hands shoot_ball
shoot_bow shoot_gun sit situp smile smoke somersault stand swing_baseball sword sword_exercise
talk throw turn walk wave""".split()
KINETICS_NAMED = [
    "abseiling",
    "air drumming",
    "answering questions",
    "applauding",
    "passing American football (in game)",
    "passing American football (not in game)",
    "dancing ballet",
    "riding a bike",
    "zumba",
]
SOMETHING_NAMED = [
    "Holding something",
    "Pushing something from left to right",
    "Putting something on a surface",
    "Moving something up",
    "Pretending to pick something up",
]
COUNTS = {"ucf101": 13_320, "hmdb51": 6_766, "kinetics400_train": 246_534, "kinetics400_val": 19_906}
DATASETS = ("ucf101", "hmdb51", "kinetics400", "something_v1")


def kinetics_classes() -> list[str]:
    """400 labels: a few official ones, the rest numbered placeholders, sorted as the readers do."""
    return sorted(
        KINETICS_NAMED
        + [f"placeholder activity {i:03d} (kind, {i % 7})" for i in range(400 - len(KINETICS_NAMED))]
    )


def something_classes() -> list[str]:
    """174 labels: a few official templates, the rest numbered placeholders."""
    return SOMETHING_NAMED + [
        f"Doing something number {i:03d}, slowly" for i in range(174 - len(SOMETHING_NAMED))
    ]


def render(seed: int, frames: int, size: tuple[int, int]) -> np.ndarray:
    """``frames×H×W×3`` uint8 of a moving object (synthetic_motion's renderer at 64 px, resized
    to ``size`` = (width, height))."""
    cfg = sm.SyntheticMotionConfig(size=64, frames=frames)
    video = sm.render_video(seed % len(sm.CLASSES), [seed], cfg, *sm.split_families("train"))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in video])


def encode(path: Path, video: np.ndarray, codec: str, fps: int, gop: int | None = None) -> None:
    """Write RGB frames with PyAV: ``mpeg4`` (MPEG-4 part 2, GOP 12, 2 B-frames) or ``libx264``
    (2 B-frames, a keyframe every ``gop`` frames, default every 2 s)."""
    import av  # noqa: PLC0415 -- lazy: start-up

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = video.shape[1:3]
        stream.pix_fmt = "yuv420p"
        if codec == "mpeg4":
            stream.codec_context.gop_size = 12
            stream.codec_context.max_b_frames = 2
        else:
            options = {"preset": "veryfast", "bf": "2", "g": str(gop or 2 * fps), "crf": "36"}
            if gop:  # exactly: no keyframe at a scene cut either
                options |= {"keyint_min": str(gop), "sc_threshold": "0"}
            stream.codec_context.options = options
        for frame in video:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _encode_job(job: tuple[Path, int, int, tuple[int, int], str, int]) -> None:
    path, seed, frames, size, codec, fps = job
    encode(path, render(seed, frames, size), codec, fps)


def _damage(corrupt: Path, empty: Path) -> None:
    corrupt.write_bytes(np.random.default_rng(0).bytes(4000))
    empty.write_bytes(b"")


def _crlf(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + "\r\n" for line in lines).encode())


def ucf101(out: Path) -> list[tuple]:
    """UCF101 files; returns the encoding jobs. Groups 1, 8, 15: one test video per split."""
    root, lists = out / "ucf101" / "UCF-101", out / "ucf101" / "ucfTrainTestlist"
    _crlf(lists / "classInd.txt", [f"{i + 1} {c}" for i, c in enumerate(UCF101_CLASSES)])
    jobs, entries = [], []
    for label, cls in enumerate(UCF101_CLASSES):
        name = "HandStandPushups" if cls == "HandstandPushups" else cls  # the official quirk
        for group in (1, 8, 15):
            rel = f"{cls}/v_{name}_g{group:02d}_c01.avi"
            entries.append((rel, label, group))
            jobs.append((root / rel, label * 3 + group, 24, (320, 240), "mpeg4", 25))
    for split in (1, 2, 3):
        test_groups = range(7 * split - 6, 7 * split + 1)
        _crlf(
            lists / f"trainlist0{split}.txt",
            [f"{rel} {label + 1}" for rel, label, g in entries if g not in test_groups],
        )
        _crlf(lists / f"testlist0{split}.txt", [rel for rel, _, g in entries if g in test_groups])
    return jobs


def hmdb51(out: Path) -> list[tuple]:
    root, splits = out / "hmdb51" / "videos", out / "hmdb51" / "splits"
    splits.mkdir(parents=True, exist_ok=True)
    jobs = []
    for label, cls in enumerate(HMDB51_CLASSES):
        names = [f"{cls}_video_{k}_f_cm_np1_fr_med_{k}.avi" for k in range(3)]
        for k, name in enumerate(names):
            jobs.append((root / cls / name, 1000 + label * 3 + k, 24, (320, 240), "mpeg4", 30))
        for split in (1, 2, 3):  # roles rotate: 1 train, 2 test, 0 unused
            roles = np.roll([1, 2, 0], split - 1)
            (splits / f"{cls}_test_split{split}.txt").write_text(
                "".join(f"{name} {role} \n" for name, role in zip(names, roles, strict=True))
            )
    return jobs


def kinetics400(out: Path) -> list[tuple]:
    root = out / "kinetics400"
    header = "label,youtube_id,time_start,time_end,split"
    jobs, rows = [], {"train": [header], "validate": [header]}
    for label, cls in enumerate(kinetics_classes()):
        for split, folder in (("train", "train"), ("validate", "val")):
            ytid = f"{'abcdefghijk'[label % 11]}{label:04d}{split[0]}xY_z-"  # 11 characters
            start = 10 * (label % 30)
            name = f"{ytid}_{start:06d}_{start + 10:06d}.mp4"
            quoted = f'"{cls}"' if "," in cls else cls
            rows[split].append(f"{quoted},{ytid},{start},{start + 10},{split}")
            if label % 25 == 24:  # listed but never downloaded (4 %), as in every real copy
                continue
            size = (1280, 720) if label in (3, 150, 300) and split == "train" else (340, 256)
            jobs.append(
                (root / folder / cls / name, 5000 + 2 * label + (split == "train"), 16, size, "libx264", 30)
            )
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, lines in rows.items():
        (root / "annotations" / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return jobs


#: the official Kinetics-400 list sizes (train, validate, test) and the share of listed videos
#: a full-size fixture leaves absent, as a user's copy typically lacks 3–10 %
FULL_SIZE_ROWS = {"train": 246_534, "validate": 19_906, "test": 38_685}
FULL_SIZE_MISSING = 0.06
#: the real videos a full-size fixture's files link to: Kinetics-like H.264, one keyframe each
#: (YouTube encodes put keyframes seconds apart): 10 s of 340×256 at 25 fps, two of 2 s at 720p
FULL_SIZE_SOURCES = [(f"short_side_256_{i:02d}.mp4", (340, 256), 250) for i in range(22)] + [
    (f"hd_720p_{i}.mp4", (1280, 720), 50) for i in range(2)
]


def _encode_long_gop(job: tuple[Path, int, tuple[int, int], int]) -> None:
    path, seed, size, frames = job
    encode(path, render(seed, frames, size), "libx264", 25, gop=frames)


def index_full_size(split: Path) -> int:
    """Write the video index of a full-size fixture's split folder as ``vidssl-prepare verify``
    writes it (first-frame probes), each distinct file (inode) probed once: its hard links share
    the probe. Returns the number of lines."""

    from vidssl_datasets.video_index import INDEX_NAME, file_stat, make_entry  # noqa: PLC0415 -- lazy: start-up

    probed, lines = {}, []
    for path in sorted(split.rglob("*.mp4")):
        stat = file_stat(path)
        if stat.st_ino not in probed:
            probed[stat.st_ino] = make_entry("", path, stat, "first")
        lines.append(json.dumps({**probed[stat.st_ino], "path": str(path.relative_to(split))}))
    (split / INDEX_NAME).write_text("\n".join(lines) + "\n")
    return len(lines)


def kinetics400_full_size(out: Path, rows: int | None = None, workers: int = 2) -> Path:
    """Kinetics-400 at its listed size (or ``rows`` listed videos in all, split as the official
    lists are): the official layout, annotation CSVs of every row, and a video file for all but
    :data:`FULL_SIZE_MISSING` of them, each a hard link to one of a few dozen real encoded videos
    (``kinetics400/.sources``): seconds to write, megabytes on disk, every probe real."""
    root = out / "kinetics400"
    shutil.rmtree(root, ignore_errors=True)
    sources = root / ".sources"
    sources.mkdir(parents=True)
    jobs = [
        (sources / name, 7000 + i, size, frames) for i, (name, size, frames) in enumerate(FULL_SIZE_SOURCES)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_encode_long_gop, jobs))
    total = sum(FULL_SIZE_ROWS.values())
    counts = {
        split: n if rows is None else max(1, round(rows * n / total)) for split, n in FULL_SIZE_ROWS.items()
    }
    classes = kinetics_classes()
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    header = "label,youtube_id,time_start,time_end,split"
    pool = np.arange(len(classes))
    (root / "annotations").mkdir()
    for split, n in counts.items():
        folder = root / {"train": "train", "validate": "val", "test": "test"}[split]
        for cls in classes:
            (folder / cls).mkdir(parents=True)
        labels = pool[rng.integers(0, len(pool), n)]
        if split == "train":  # every class in the train list (as in the official one), if it can
            first = min(n, len(classes))
            labels[:first] = np.random.default_rng(1).permutation(len(classes))[:first]
            pool = np.unique(labels)  # the other lists name no class train lacks
        ids = ["".join(row) for row in letters[rng.integers(0, len(letters), (n, 11))]]
        starts = rng.integers(0, 290, n)
        present = rng.random(n) >= FULL_SIZE_MISSING
        which = rng.integers(0, len(jobs), n)
        lines = [header]
        for label, ytid, start, keep, source in zip(labels, ids, starts, present, which, strict=True):
            cls = classes[label]
            lines.append(
                f"{chr(34) + cls + chr(34) if ',' in cls else cls},{ytid},{start},{start + 10},{split}"
            )
            if keep:
                os.link(jobs[source][0], folder / cls / f"{ytid}_{start:06d}_{start + 10:06d}.mp4")
        (root / "annotations" / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return root


def something_v1(out: Path) -> None:
    root = out / "something_v1"
    frames_root = root / "20bn-something-something-v1"
    classes = something_classes()
    (root / "something-something-v1-labels.csv").parent.mkdir(parents=True, exist_ok=True)
    (root / "something-something-v1-labels.csv").write_text("\n".join(classes) + "\n")
    rows = {"train": [], "validation": []}
    for label, cls in enumerate(classes):
        for k, split in enumerate(("train", "validation")):
            video_id = 100_000 + 2 * label + k
            rows[split].append(f"{video_id};{cls}")
            folder = frames_root / str(video_id)
            folder.mkdir(parents=True, exist_ok=True)
            if label == 7 and split == "train":
                continue  # an empty frame folder
            for i, frame in enumerate(render(9000 + video_id, 12, (132, 100))):
                cv2.imwrite(
                    str(folder / f"{i + 1:05d}.jpg"), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80]
                )
    for split, lines in rows.items():
        (root / f"something-something-v1-{split}.csv").write_text("\n".join(lines) + "\n")


def write_fixtures(out: str | Path, which: list[str], workers: int = 2) -> dict[str, Path]:
    """Write the named datasets' fixtures under ``out`` (replacing earlier ones); returns each
    dataset's folder."""
    out = Path(out)
    jobs = []
    for name in which:
        shutil.rmtree(out / name, ignore_errors=True)
        if name == "something_v1":
            something_v1(out)
        else:
            jobs += {"ucf101": ucf101, "hmdb51": hmdb51, "kinetics400": kinetics400}[name](out)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_encode_job, jobs, chunksize=16))
    if "ucf101" in which:
        videos = out / "ucf101" / "UCF-101"
        _damage(
            videos / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g15_c01.avi",  # split 1: train
            videos / "Archery" / "v_Archery_g01_c01.avi",
        )  # split 1: test
    if "hmdb51" in which:
        videos = out / "hmdb51" / "videos"
        _damage(
            videos / "brush_hair" / "brush_hair_video_0_f_cm_np1_fr_med_0.avi",  # 1: train
            videos / "cartwheel" / "cartwheel_video_1_f_cm_np1_fr_med_1.avi",
        )  # 1: test
    if "kinetics400" in which:
        train = out / "kinetics400" / "train"
        _damage(next((train / "abseiling").glob("*.mp4")), next((train / "riding a bike").glob("*.mp4")))
    return {name: out / name for name in which}
