"""The data layer at Kinetics-400 size, on the full-size fixture (``vidssl-prepare fixtures
kinetics400 --full-size``: every row of the official lists, the files hard links to a few dozen
real long-GOP videos), side by side with the previous code path where there is one:

* loading the train split's video index in a fresh process: the previous path (the JSON lines
  parsed into a dict of dicts, as ``LOAD`` below does) against mapping the flat-array snapshot;
  seconds and resident memory added;
* making the Kinetics-400 train dataset (annotation, start-up stat of every file);
* private memory (USS) growth of ``--workers`` persistent DataLoader workers after ``--items``
  items each at ``--tiny`` view sizes, forked from a process with ``keep_freed_memory`` set as in
  a ``vidssl-run``: the previous workers (the parent's settings inherited) against vidssl's now
  (``worker_init_fn=start_data_worker``, as its loaders start them), one long run each; and their
  time per item, median of ``--repeats`` interleaved runs of ``--time-items`` items per worker;
* ``verify``'s probe on 10-s 340×256 one-keyframe files: the previous default (the last group of
  pictures decoded, here all of it) against the new one (packets and the first frame), videos/s
  on one core, then ``--workers 1`` against ``--workers 2`` of the new one (scaling, from the
  rate verify reports for its probing, on ``--verify-rows`` rows), and a second verify of the
  whole verified dataset (nothing to probe);
* a 4-process gloo run (torchrun, ``--smoke --tiny``) of ``vtdl_i3d_kinetics.py``'s pre-training
  on the fixture: wall time to its first iteration.

The index of the train split is written as ``verify`` writes it, each distinct file probed once
(hard links share their probe). The last line is ``ratio: X``: the previous index's resident
memory per process / the snapshot's.

    python benchmarks/scale.py [--rows N] [--items 5000] [--workers 4] [--time-items 300]
                               [--repeats 5] [--probes 40] [--verify-rows 8000] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vidssl_datasets import annotations as ann
from vidssl_datasets.fixtures import index_full_size

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: run in a fresh process: resident memory and seconds a way of loading the index adds
LOAD = """
import json, sys, time
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2 ** 20
import numpy as np
import vidssl_datasets.video_index as video_index
index_file, how = sys.argv[1], sys.argv[2]
before, started = rss(), time.perf_counter()
if how == "previous":   # the previous VideoIndex: every line into a dict of dicts
    entries = {}
    with open(index_file, "rb") as f:
        for line in f.read().decode().splitlines():
            entry = json.loads(line)
            entries[entry["path"]] = entry
    size = len(entries)
else:
    index = video_index.VideoIndex(sys.argv[3])
    index.open()
    size = len(index.snapshot)
seconds, mb = time.perf_counter() - started, rss() - before
if how == "snapshot":   # every page of the snapshot read: file pages, shared by every process
    for array in index.snapshot.arrays.values():
        np.asarray(array).sum()
print(json.dumps({"seconds": seconds, "mb": mb, "videos": size, "all_pages": rss() - before}))
"""

#: run in a fresh process: dataset construction, then workers' USS growth over ITEMS items each
WORKERS = """
import json, sys, time, torch
import vidssl
from vidssl._speed.host_memory import keep_freed_memory, start_data_worker
base, items, workers, how = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
keep_freed_memory()   # as in a vidssl-run's main process
started = time.perf_counter()
dataset = vidssl.build("dataset", {"type": "kinetics400", "root": f"{base}/train",
                                   "annotation": f"{base}/annotations/train.csv",
                                   "view": {"clip_len": 8, "size": 64, "resize": 64}},
                       views={"clip": {}})
built = time.perf_counter() - started

def uss(pid):
    fields = dict(line.split(":")[:2] for line in open(f"/proc/{pid}/smaps_rollup") if ":" in line)
    return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty")) / 1024

loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=True, num_workers=workers,
                                     persistent_workers=True, prefetch_factor=1,
                                     worker_init_fn=start_data_worker if how == "now" else None)
iterator = iter(loader)
for _ in range(2 * workers):   # every worker past its first items (imports, decoder set-up)
    next(iterator)
pids = [w.pid for w in iterator._workers]
first = {pid: uss(pid) for pid in pids}
started = time.perf_counter()
for _ in range(items * workers):
    next(iterator)
growth = [uss(pid) - first[pid] for pid in pids]
print(json.dumps({"rows": len(dataset), "construction": built, "growth": growth, "first": first,
                  "ms_per_item": 1000 * (time.perf_counter() - started) / (items * workers)}))
"""

#: run in a fresh process: videos/s of one probe kind over the given files, on one core
PROBE = """
import json, sys, time
from vidssl_datasets.video_reader import probe
decode, paths = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
for path in paths:
    probe(path, decode)
print(json.dumps(len(paths) / (time.perf_counter() - started)))
"""


def python(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.splitlines()[-1])


def first_iteration(data_root: Path, work: Path) -> float:
    """Seconds from starting a 4-process torchrun of the VTDL Kinetics config's pre-training
    (``--smoke --tiny``) to its first iteration line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(BIN / "torchrun"),
            "--standalone",
            "--nproc-per-node",
            "4",
            "--no-python",
            str(BIN / "vidssl-run"),
            str(REPO / "configs" / "vtdl_i3d_kinetics.py"),
            "--smoke",
            "--tiny",
            "--stages",
            "pretrain",
            "--work-dir",
            str(work),
            "--cfg-options",
            f"data_root={data_root}",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    seen = None
    for line in process.stderr:
        if seen is None and re.search(r"iteration 1/", line):
            seen = time.perf_counter() - started
    process.wait()
    if process.returncode != 0 or seen is None:
        raise SystemExit(f"the 4-process run failed (exit {process.returncode})")
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, help="listed videos in all (default: the official lists' 305,125)"
    )
    parser.add_argument("--items", type=int, default=5000, help="items per data worker")
    parser.add_argument("--workers", type=int, default=4, help="data workers")
    parser.add_argument("--probes", type=int, default=40, help="files each probe rate is timed on")
    parser.add_argument(
        "--time-items", type=int, default=300, help="items per data worker in each run that times items"
    )
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing repeats")
    parser.add_argument(
        "--verify-rows",
        type=int,
        default=8000,
        help="listed videos the scaling of verify --workers is timed on",
    )
    parser.add_argument(
        "--out", type=Path, help="where the fixture goes (default: a temporary folder, removed afterwards)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.out or Path(scratch)
        started = time.perf_counter()
        subprocess.run(
            [
                str(BIN / "vidssl-prepare"),
                "fixtures",
                "kinetics400",
                "--full-size",
                *(["--rows", str(args.rows)] if args.rows else []),
                "--out",
                str(root),
            ],
            check=True,
            capture_output=True,
        )
        base = root / "kinetics400"
        for workers in (1, 2):  # the first --verify-rows rows, linked into a data root of
            subset = root / f"verify{workers}" / "kinetics400"  # their own (before indexing: a
            (subset / "annotations").mkdir(parents=True)  # new link changes the ctime)
            head = (base / "annotations" / "train.csv").read_text().splitlines()[: 1 + args.verify_rows]
            (subset / "annotations" / "train.csv").write_text("\n".join(head) + "\n")
            (subset / "annotations" / "validate.csv").write_text(head[0] + "\n")
            (subset / "val").mkdir()
            for record in ann.read_kinetics(subset / "annotations" / "train.csv", base / "train")[0]:
                source = Path(record.path)
                if source.exists():
                    target = subset / "train" / source.relative_to(base / "train")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.link(source, target)
        lines = index_full_size(base / "train")
        index_full_size(base / "val")
        print(
            f"fixture: {lines} train files listed and present, written and indexed in "
            f"{time.perf_counter() - started:.0f} s"
        )
        index_file = base / "train" / ".vidssl-index.jsonl"
        python(LOAD, index_file, "snapshot", base / "train")  # builds the snapshot once
        previous = python(LOAD, index_file, "previous")
        snapshot = python(LOAD, index_file, "snapshot", base / "train")
        print(f"{'index load':<44} {'previous':>10} {'now':>10} {'goal':>10}")
        print(f"{'  seconds':<44} {previous['seconds']:10.2f} {snapshot['seconds']:10.2f} {'≤ 2':>10}")
        print(
            f"{'  resident MB added per process':<44} {previous['mb']:10.1f} "
            f"{snapshot['mb']:10.1f} {'≤ 60':>10}"
        )
        print(
            f"{'  ... with every page of the snapshot read':<44} {'':>10} "
            f"{snapshot['all_pages']:10.1f} {'':>10}   (shared file pages)"
        )
        before = python(WORKERS, base, args.items, args.workers, "previous")
        loaded = python(WORKERS, base, args.items, args.workers, "now")
        timed = {"previous": [], "now": []}
        for _ in range(args.repeats):  # time per item: shorter runs, interleaved
            for how in timed:
                timed[how].append(python(WORKERS, base, args.time_items, args.workers, how)["ms_per_item"])
        ms = {how: statistics.median(runs) for how, runs in timed.items()}
        print(
            f"{'dataset construction, train split (s)':<44} {'':>10} "
            f"{loaded['construction']:10.2f} {'≤ 5':>10}   ({loaded['rows']} videos)"
        )
        each = {
            k: ", ".join(f"{g:.1f}" for g in run["growth"])
            for k, run in (("previous", before), ("now", loaded))
        }
        print(
            f"{f'USS growth of {args.workers} workers, {args.items} items each (MB)':<44} "
            f"{max(before['growth']):10.1f} {max(loaded['growth']):10.1f} {'≤ 30':>10}   "
            f"(each: {each['previous']} / {each['now']})"
        )
        print(
            f"{'  ms per item (median of interleaved runs)':<44} {ms['previous']:10.1f} "
            f"{ms['now']:10.1f} {'':>10}   ({args.repeats} × {args.time_items} items per "
            f"worker; now / previous {ms['now'] / ms['previous']:.2f})"
        )
        files = sorted((base / "train").rglob("*.mp4"))[: args.probes]
        old = python(PROBE, "last_gop", *files)
        new = python(PROBE, "first", *files)
        print(f"{'verify probe, videos/s on one core':<44} {old:10.1f} {new:10.1f} {'≥ 40':>10}")
        rates = {}
        for workers in (1, 2):
            subset = root / f"verify{workers}" / "kinetics400"
            err = subprocess.run(
                [
                    str(BIN / "vidssl-prepare"),
                    "verify",
                    "kinetics400",
                    "--data-root",
                    str(subset.parent),
                    "--workers",
                    str(workers),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stderr
            rates[workers] = float(re.findall(r"([\d.]+) videos/s", err)[-1])  # probing only
        print(
            f"{'verify, videos/s with --workers 1 / 2':<44} {rates[1]:10.1f} {rates[2]:10.1f} "
            f"{'≥ 1.8×':>10}   ({rates[2] / rates[1]:.2f}×, probing phase)"
        )
        seconds = []
        for _ in range(2):  # the first adds the missing videos' lines, the second finds all
            timed = time.perf_counter()
            subprocess.run(
                [
                    str(BIN / "vidssl-prepare"),
                    "verify",
                    "kinetics400",
                    "--data-root",
                    str(root),
                    "--workers",
                    "2",
                ],
                check=True,
                capture_output=True,
            )
            seconds.append(time.perf_counter() - timed)
        print(
            f"{'verify again, all rows of train and val (s)':<44} {'':>10} "
            f"{seconds[1]:10.1f} {'≤ 10':>10}   (the first verify: {seconds[0]:.1f} s)"
        )
        seconds = first_iteration(root, root / "run")
        print(
            f"{'4-process gloo run, start to first iteration (s)':<44} {'':>10} {seconds:10.1f} {'≤ 30':>10}"
        )
        print(f"ratio: {previous['mb'] / max(snapshot['mb'], 0.1):.1f}")


if __name__ == "__main__":
    main()
