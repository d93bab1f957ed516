"""Readers of the annotation files the seeds use. Each returns ``(records, classes)`` with 0-based
labels (-1 for unlabelled rows); a malformed line raises :class:`DataError` naming file and line.

* UCF101: ``classInd.txt`` (``1 ApplyEyeMakeup``), ``trainlist0N.txt``
  (``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``), ``testlist0N.txt`` (no index);
* HMDB51: ``<class>_test_split<N>.txt`` (``April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 ``;
  1 train, 2 test, 0 unused);
* Kinetics-400: CSV ``label,youtube_id,time_start,time_end,split``;
* Something-Something V1: ``;``-separated ``<id>;<label>`` CSVs and a labels file;
* 3D-ResNets JSON (``labels`` + ``database`` with ``subset``), VTDL lists
  (``path n_frames label``) and MLFO CSV (``path,n_frames[,label]``).
"""

from __future__ import annotations

import csv
import functools
import gc
import json
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from vidssl import DataError
from vidssl_datasets.video_source import VideoRecord

Records = tuple[list[VideoRecord], list[str]]
P = ParamSpec("P")
T = TypeVar("T")


def gc_paused(function: Callable[P, T]) -> Callable[P, T]:
    """``function`` run with Python's cyclic garbage collector paused: the hundreds of thousands
    of rows an annotation file of Kinetics' size becomes (lists, tuples, strings; no cycles)
    would otherwise set off one collection pass over all of them after another (Kinetics-400's
    train list: 1.5 s to read instead of 0.6 s)."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        paused = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if paused:
                gc.enable()

    return run


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise DataError(f"annotation file not found: {path}")
    return [(i, line.strip()) for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]


def _int(value: str, path: Path, number: int, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{path}:{number}: {what} must be an integer, got '{value}'") from None


def read_class_index(path: Path) -> list[str]:
    """UCF101 ``classInd.txt``: lines ``1 ApplyEyeMakeup`` (1-based, in order)."""
    classes = []
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) != len(classes) + 1:
            raise DataError(
                f"{path}:{number}: expected '<index> <class name>' with index "
                f"{len(classes) + 1}, got '{line}'"
            )
        classes.append(parts[1])
    return classes


def _name(entry: str, strip_extension: bool) -> str:
    """A listed video file name, or its frame-folder name (extension dropped)."""
    return str(Path(entry).with_suffix("")) if strip_extension else entry


def read_ucf101_list(
    path: Path, classes: list[str], video_root: Path, strip_extension: bool = False
) -> list[VideoRecord]:
    """UCF101 ``trainlist0N.txt`` (1-based class index) or ``testlist0N.txt`` (label from the
    folder); ``strip_extension`` for frame folders named after the videos."""
    records = []
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) not in (1, 2):
            raise DataError(f"{path}:{number}: expected '<class>/<video> [<class index>]', got '{line}'")
        folder = parts[0].split("/")[0]
        if len(parts) == 2:
            index = _int(parts[1], path, number, "class index")
            if not 1 <= index <= len(classes):
                raise DataError(f"{path}:{number}: class index {index} is not in 1..{len(classes)}")
            label = index - 1
        elif folder in classes:
            label = classes.index(folder)
        else:
            raise DataError(f"{path}:{number}: unknown class '{folder}' (not in classInd.txt)")
        records.append(
            VideoRecord(str(video_root / _name(parts[0], strip_extension)), label, origin=f"{path}:{number}")
        )
    return records


def read_hmdb51(
    split_dir: Path, split: int, subset: str, video_root: Path, strip_extension: bool = False
) -> Records:
    """HMDB51 split files ``<class>_test_split<split>.txt``; ``subset`` "train" keeps flag 1,
    "test" flag 2. Classes are the sorted class names."""
    files = sorted(split_dir.glob(f"*_test_split{split}.txt"))
    if not files:
        raise DataError(f"no HMDB51 split files '*_test_split{split}.txt' in {split_dir}")
    classes = [f.name[: -len(f"_test_split{split}.txt")] for f in files]
    wanted = {"train": 1, "test": 2}[subset]
    records = []
    for label, file in enumerate(files):
        for number, line in _lines(file):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DataError(f"{file}:{number}: expected '<video>.avi <0|1|2>', got '{line}'")
            if int(parts[1]) == wanted:
                name = _name(parts[0], strip_extension)
                records.append(
                    VideoRecord(str(video_root / classes[label] / name), label, origin=f"{file}:{number}")
                )
    return records, classes


KINETICS_HEADER = ["label", "youtube_id", "time_start", "time_end", "split"]


def read_kinetics(
    csv_path: Path, video_root: Path, classes: list[str] | None = None, suffix: str = ".mp4"
) -> Records:
    """Kinetics CSV rows → ``<root>/<label>/<youtube_id>_<start:06d>_<end:06d><suffix>``.
    Classes default to the sorted labels of this file (pass the training file's classes for
    the validation split)."""
    if not csv_path.is_file():
        raise DataError(f"annotation file not found: {csv_path}")
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or [c.strip() for c in rows[0]][:5] != KINETICS_HEADER:
        raise DataError(f"{csv_path}:1: expected the header '{','.join(KINETICS_HEADER)}'")
    numbered = [(number, row) for number, row in enumerate(rows[1:], 2) if row]
    try:  # one pass for the ~250,000 rows of a well-formed file
        names = [
            f"{row[1]}_{int(row[2]):06d}_{int(row[3]):06d}{suffix}" for _, row in numbered if len(row) >= 5
        ]
    except ValueError:
        names = []
    if len(names) != len(numbered):  # the first malformed row, named
        for number, row in numbered:
            if len(row) < 5:
                raise DataError(f"{csv_path}:{number}: expected 5 comma-separated fields, got {row}")
            _int(row[2], csv_path, number, "time_start")
            _int(row[3], csv_path, number, "time_end")
    classes = classes or sorted({row[0] for _, row in numbered})
    labels = {name: i for i, name in enumerate(classes)}
    unknown = next(((n, row[0]) for n, row in numbered if row[0] not in labels), None)
    if unknown:
        raise DataError(f"{csv_path}:{unknown[0]}: unknown label '{unknown[1]}'")
    return [
        VideoRecord(f"{video_root}/{row[0]}/{name}", labels[row[0]], None, f"{csv_path}:{number}")
        for (number, row), name in zip(numbered, names, strict=True)
    ], classes


def read_something_v1(labels_path: Path, split_path: Path, frame_root: Path) -> Records:
    """Something-Something V1: labels file (one class a line), split CSV ``<id>;<label>`` (or
    ``<id>`` for the test split); frames under ``<frame_root>/<id>/``."""
    classes = [line for _, line in _lines(labels_path)]
    records = []
    for number, line in _lines(split_path):
        video_id, _, label = line.partition(";")
        if not video_id.isdigit():
            raise DataError(f"{split_path}:{number}: expected '<video id>;<label>', got '{line}'")
        if label and label not in classes:
            raise DataError(f"{split_path}:{number}: unknown label '{label}'")
        records.append(
            VideoRecord(
                str(frame_root / video_id),
                classes.index(label) if label else -1,
                origin=f"{split_path}:{number}",
            )
        )
    return records, classes


def read_video_list(
    path: Path, root: Path, subset: str = "training", classes: list[str] | None = None
) -> Records:
    """Any seed list format, chosen by the file: ``.json`` (3D-ResNets: ``labels`` and
    ``database`` entries with ``subset`` and ``annotations.label``), ``.csv`` (MLFO:
    ``path,n_frames[,label]``), else space-separated VTDL lists (``path n_frames label``)."""
    if path.suffix == ".json":
        return _read_activitynet_json(path, root, subset)
    records = []
    for number, line in _lines(path):
        parts = line.split(",") if path.suffix == ".csv" else line.split()
        if len(parts) not in (2, 3):
            layout = "path,n_frames[,label]" if path.suffix == ".csv" else "path n_frames label"
            raise DataError(f"{path}:{number}: expected '{layout}', got '{line}'")
        n_frames = _int(parts[1], path, number, "n_frames")
        label = _int(parts[2], path, number, "label") if len(parts) == 3 else -1
        records.append(VideoRecord(str(root / parts[0]), label, n_frames, f"{path}:{number}"))
    n_classes = max((r.label for r in records), default=-1) + 1
    return records, classes or [str(i) for i in range(n_classes)]


def _read_activitynet_json(path: Path, root: Path, subset: str) -> Records:
    if not path.is_file():
        raise DataError(f"annotation file not found: {path}")
    try:
        data = json.loads(path.read_text())
        classes, database = list(data["labels"]), data["database"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a 3D-ResNets annotation JSON ({type(exc).__name__}: {exc})") from None
    records = []
    for key, entry in database.items():
        if entry.get("subset") != subset:
            continue
        label_name = entry.get("annotations", {}).get("label")
        if label_name is not None and label_name not in classes:
            raise DataError(f"{path}: entry '{key}' has unknown label '{label_name}'")
        label = classes.index(label_name) if label_name is not None else -1
        folder = root / (label_name.replace(" ", "_") if label_name else "") / key
        records.append(VideoRecord(str(folder), label, origin=f"{path}: {key}"))
    return records, classes
