"""The data layer at Kinetics scale, on a scaled-down full-size fixture (``vidssl-prepare fixtures
kinetics400 --full-size --rows 20000``: the official layout, every row of the lists, the files hard
links to a few real videos): the index is flat arrays that data workers share, a dataset checks its
files once when it is made (no stat per item), one process of several parses the index file, and
``verify`` runs in parallel and continues where it was interrupted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import vidssl
from conftest import run_cli
from vidssl_datasets.fixtures import index_full_size
from vidssl_datasets.video_index import INDEX_NAME

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scaled_kinetics(tmp_path_factory) -> Path:
    """The fixture with 20,000 listed rows, its train split indexed as ``verify`` indexes it:
    each distinct file (inode) probed once, a line per listed file."""
    root = tmp_path_factory.mktemp("kinetics_full")
    run_cli(
        "vidssl-prepare",
        "fixtures",
        "kinetics400",
        "--full-size",
        "--rows",
        "20000",
        "--out",
        str(root),
        check=True,
    )
    index_full_size(root / "kinetics400" / "train")
    return root


def kinetics(root: Path, **reader):
    base = root / "kinetics400"
    return vidssl.build(
        "dataset",
        {
            "type": "kinetics400",
            "root": str(base / "train"),
            "annotation": str(base / "annotations" / "train.csv"),
            "view": {"clip_len": 4, "size": 32},
            "reader": reader,
        },
        views={"clip": {}},
    )


WORKER_USS = """
import json, os, sys
import vidssl

def uss():
    fields = dict(line.split(":")[0:2] for line in open("/proc/self/smaps_rollup") if ":" in line)
    return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty")) / 1024

base = sys.argv[1]
dataset = vidssl.build("dataset", {"type": "kinetics400", "root": f"{base}/train",
                                   "annotation": f"{base}/annotations/train.csv",
                                   "view": {"clip_len": 4, "size": 32}}, views={"clip": {}})
read, write = os.pipe()
if os.fork() == 0:   # a data worker: touch every entry, report its private memory growth
    before = uss()
    for row in range(len(dataset)):
        dataset.index.lookup(dataset.video_name(row))
        dataset.label(row)
    os.write(write, json.dumps({"rows": len(dataset), "growth": uss() - before}).encode())
    os._exit(0)
os.wait()
print(os.read(read, 1000).decode())
"""


def test_a_worker_touching_every_entry_copies_almost_nothing(scaled_kinetics):
    out = subprocess.run(
        [sys.executable, "-c", WORKER_USS, str(scaled_kinetics / "kinetics400")],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout.splitlines()[-1])
    assert found["rows"] > 14000
    assert found["growth"] <= 10, f"{found['growth']:.1f} MB of private memory"


STARTS = """
import sys
import vidssl
base = sys.argv[1]
vidssl.build("dataset", {"type": "kinetics400", "root": f"{base}/train",
                         "annotation": f"{base}/annotations/train.csv"}, views={"clip": {}})
"""


def test_of_two_processes_starting_together_one_parses_the_index(scaled_kinetics, tmp_path):
    base = scaled_kinetics / "kinetics400"
    snapshots = base / "train" / f"{INDEX_NAME}.d"
    if snapshots.exists():
        import shutil

        shutil.rmtree(snapshots)
    both = [
        subprocess.Popen([sys.executable, "-c", STARTS, str(base)], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errs = [p.communicate()[1] for p in both]
    assert all(p.returncode == 0 for p in both), errs
    built = [e for e in errs if "as flat arrays" in e]
    assert len(built) == 1, errs
    assert all("videos left out" in e for e in errs), "both left out the missing ones"


def test_no_file_system_call_per_item_after_the_start_up_check(real_data_root, monkeypatch):
    import os

    run_cli("vidssl-prepare", "verify", "kinetics400", "--data-root", str(real_data_root), check=True)
    dataset = kinetics(real_data_root)
    dataset[0]  # lazy imports of the decoders stat their modules once
    calls = []
    for name in ("stat", "lstat"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k)
        )
    items = [dataset[i % len(dataset)] for i in range(1000)]
    assert all(item["views"]["clip"].shape == (3, 4, 32, 32) for item in items)
    assert calls == []


def entries(index: Path) -> dict[str, dict]:
    """Path → entry without what differs between two copies of a file (identity, the copy's
    folder in an error text)."""
    found = {}
    for line in index.read_text().splitlines():
        entry = json.loads(line.replace(str(index.parents[2]), "DATA_ROOT"))
        found[entry["path"]] = {
            k: v for k, v in entry.items() if k not in ("size", "mtime", "mtime_ns", "ctime_ns", "inode")
        }
    return found


def test_verify_in_two_processes_writes_the_same_index_and_resumes(real_data_root, tmp_path):
    import shutil

    for workers in (1, 2):
        copy = tmp_path / f"w{workers}"
        shutil.copytree(real_data_root / "kinetics400", copy / "kinetics400", symlinks=True)
        for old in (copy / "kinetics400").rglob(f"{INDEX_NAME}*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        run_cli(
            "vidssl-prepare",
            "verify",
            "kinetics400",
            "--data-root",
            str(copy),
            "--workers",
            str(workers),
            check=True,
        )
    index = Path("kinetics400") / "train" / INDEX_NAME
    one, two = entries(tmp_path / "w1" / index), entries(tmp_path / "w2" / index)
    assert one == two and len(one) == 400
    # interrupted after half of its lines: the next verify probes the other half only
    lines = (tmp_path / "w2" / index).read_text().splitlines()
    (tmp_path / "w2" / index).write_text("\n".join(lines[:200]) + "\n")
    result = run_cli(
        "vidssl-prepare",
        "verify",
        "kinetics400",
        "--data-root",
        str(tmp_path / "w2"),
        "--workers",
        "2",
        check=True,
    )
    again = (tmp_path / "w2" / index).read_text().splitlines()
    assert len(again) == 400, "each of the 200 dropped videos probed (or marked) once"
    assert entries(tmp_path / "w2" / index) == one
    result = run_cli(
        "vidssl-prepare", "verify", "kinetics400", "--data-root", str(tmp_path / "w2"), check=True
    )
    assert len((tmp_path / "w2" / index).read_text().splitlines()) == 400, "nothing probed"
    assert "kinetics400_train" in result.stdout


def test_a_wrong_root_stops_before_training(tmp_path):
    from vidssl import DatasetNotFound

    base = tmp_path / "kinetics400"
    (base / "annotations").mkdir(parents=True)
    (base / "train").mkdir()
    (base / "annotations" / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        + "".join(f"abseiling,id{i:09d},0,10,train\n" for i in range(10))
    )
    with pytest.raises(
        DatasetNotFound,
        match=r"10 of its 10 videos \(100.0 %: 10 missing\) "
        r"cannot be used, more than reader.max_missing=0.2",
    ):
        kinetics(tmp_path)


RUN = """
backbone = dict(type='r3d', depth=10, width=0.125, stem_pool='1x3x3')
log = dict(interval=1, tensorboard=False)
_train = dict(type='kinetics400', root={base!r} + '/train', annotation={base!r} + '/annotations/train.csv',
              view=dict(clip_len=4, size=16))
_val = dict(_train, root={base!r} + '/val', annotation={base!r} + '/annotations/validate.csv',
            train_annotation={base!r} + '/annotations/train.csv')
stages = [dict(name='supervised', type='train', dataset=_train, val_dataset=_val, batch_size=2,
               max_iters=1, method=dict(type='supervised', num_classes=400),
               evaluator=dict(type='classification'), optimizer=dict(type='SGD', lr=0.01))]
"""


def test_a_run_lists_the_videos_left_out_and_its_card_counts_them(real_data_root, tmp_path):
    """Training and validation datasets alike: each left-out video listed with why, each count
    on the stage's protocol card."""
    run_cli(
        "vidssl-prepare", "verify", "kinetics400", "--data-root", str(real_data_root), check=True
    )  # so the index knows the unreadable video too
    config = tmp_path / "run.py"
    config.write_text(RUN.format(base=str(real_data_root / "kinetics400")))
    run_cli("vidssl-run", str(config), "--work-dir", str(tmp_path / "run"), check=True)
    listings = tmp_path / "run" / "unusable_videos"
    whys = sorted(
        line.split("\t")[0] for line in (listings / "supervised.dataset.tsv").read_text().splitlines()
    )
    assert whys == ["empty"] + ["missing"] * 16 + ["unreadable"]
    validation = (listings / "supervised.val_dataset.tsv").read_text().splitlines()
    assert len(validation) == 16 and all(line.startswith("missing\t") for line in validation)
    card = json.loads((tmp_path / "run" / "protocols.json").read_text())["supervised"]
    assert card["data"]["left_out"] == {
        "dataset": {"videos": 18, "listed_in": "unusable_videos/supervised.dataset.tsv"},
        "val_dataset": {"videos": 16, "listed_in": "unusable_videos/supervised.val_dataset.tsv"},
    }
