"""Readers of annotation files. Each returns ``(records, classes)``; a malformed line raises
:class:`DataError` naming the file and line number."""
from __future__ import annotations

from pathlib import Path

from vidssl.errors import DataError
from vidssl_datasets.video_dataset import VideoRecord


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise DataError(f"annotation file not found: {path}")
    return [(i, line.strip()) for i, line in enumerate(path.read_text().splitlines(), 1)
            if line.strip()]


def read_class_index(path: Path) -> list[str]:
    """UCF101 ``classInd.txt``: lines ``1 ApplyEyeMakeup`` (1-based, in order)."""
    classes = []
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) != len(classes) + 1:
            raise DataError(f"{path}:{number}: expected '<index> <class name>' with index "
                            f"{len(classes) + 1}, got '{line}'")
        classes.append(parts[1])
    return classes


def read_ucf101_list(path: Path, classes: list[str], video_root: Path) -> list[VideoRecord]:
    """UCF101 ``trainlist0N.txt`` (``Class/v_Class_g08_c01.avi 1``, 1-based index) or
    ``testlist0N.txt`` (``Class/v_Class_g01_c01.avi``, label from the folder name)."""
    records = []
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) not in (1, 2):
            raise DataError(f"{path}:{number}: expected '<class>/<video> [<class index>]', "
                            f"got '{line}'")
        folder = parts[0].split("/")[0]
        if len(parts) == 2:
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(classes):
                raise DataError(f"{path}:{number}: class index '{parts[1]}' is not in "
                                f"1..{len(classes)}")
            label = int(parts[1]) - 1
        elif folder in classes:
            label = classes.index(folder)
        else:
            raise DataError(f"{path}:{number}: unknown class '{folder}' (not in classInd.txt)")
        records.append(VideoRecord(str(video_root / parts[0]), label, origin=f"{path}:{number}"))
    return records
