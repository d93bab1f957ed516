"""Fisher vectors, count sketch, faiss k-means and the vidssl-idt command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from tests.conftest import run_cli
from vidssl import ConfigError, kmeans_labels
from vidssl_idt.count_sketch import CountSketch
from vidssl_idt.fisher import (
    FisherModel,
    _BlockModel,
    fisher_vector,
    fit_fisher_model,
    sample_descriptors,
)
from vidssl_idt.trajectories import N_COLUMNS


def _toy_model() -> FisherModel:
    """Identity PCA on a 2-d descriptor placed at columns 10:12, two Gaussians."""
    block = _BlockModel(
        pca_mean=np.zeros(426),
        pca_components=np.eye(2, 426),
        weights=np.array([0.5, 0.5]),
        means=np.array([[0.0, 0.0], [40.0, 40.0]]),
        variances=np.array([[1.0, 1.0], [2.0, 2.0]]),
    )
    return FisherModel({"all": block})


def _rows(points: np.ndarray) -> np.ndarray:
    rows = np.zeros((len(points), N_COLUMNS), np.float32)
    rows[:, 10:12] = points
    return rows


def test_seed_fisher_vector_matches_its_formula():
    model = _toy_model()
    x = np.array([[0.5, -0.5], [20.0, 21.0], [19.0, 20.0]])
    block = model.blocks["all"]
    gamma = block.posteriors(x)
    np.testing.assert_allclose(gamma.sum(1), 1)
    # independent computation, one descriptor at a time
    g_mu, g_sigma = np.zeros((2, 2)), np.zeros((2, 2))
    for n in range(3):
        for k in range(2):
            g_mu[k] += gamma[n, k] * (x[n] - block.means[k]) / 3
            g_sigma[k] += gamma[n, k] * (block.variances[k] - (x[n] - block.means[k]) ** 2) / 3
    raw = np.concatenate([g_mu.ravel(), g_sigma.ravel()])
    expected = np.sign(raw) * np.sqrt(np.abs(raw))
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(fisher_vector(_rows(x), model), expected, rtol=1e-5, atol=1e-6)


def test_improved_fisher_vector_scaling_and_weights():
    model = _toy_model()
    x = np.array([[0.0, 0.0], [40.0, 40.0]])  # each exactly at one mean
    fv = fisher_vector(_rows(x), model, "improved", weights=True)
    assert fv.shape == (2 + 2 * 2 * 2,)
    assert np.linalg.norm(fv) == pytest.approx(1, abs=1e-6)
    np.testing.assert_allclose(fv[2:6], 0, atol=1e-3)  # mean gradients vanish at the means
    assert np.count_nonzero(fisher_vector(_rows(x[:0]), model)) == 0


def test_fit_keeps_variance_fraction_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    rows = np.zeros((600, N_COLUMNS), np.float32)
    rows[:, 10:436] = rng.normal(size=(600, 3)) @ rng.normal(size=(3, 426))  # rank 3
    rows[:, 10:436] += 0.01 * rng.normal(size=(600, 426))
    model = fit_fisher_model(rows, k=4, pca=0.9, n_init=1, max_iter=20)
    assert model.blocks["all"].means.shape[1] <= 3
    model.save(tmp_path / "m.npz")
    loaded = FisherModel.load(tmp_path / "m.npz")
    np.testing.assert_allclose(fisher_vector(rows[:50], loaded), fisher_vector(rows[:50], model))
    per_block = fit_fisher_model(
        rows, k=2, pca=2, n_init=1, max_iter=10, blocks=("trajectory", "hog", "hof", "mbhx", "mbhy")
    )
    assert fisher_vector(rows[:10], per_block).shape == (5 * 2 * 2 * 2,)


def test_count_sketch_balanced_and_linear():
    sketch = CountSketch(10_000, 2000, seed=3)
    assert np.bincount(sketch.bucket, minlength=2000).tolist() == [5] * 2000
    assert sketch.sign.sum() == 0
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=10_000), rng.normal(size=10_000)
    np.testing.assert_allclose(sketch(a + 2 * b), sketch(a) + 2 * sketch(b), rtol=1e-4, atol=1e-4)
    one = np.zeros(10_000)
    one[17] = 1
    assert sketch(one)[sketch.bucket[17]] == sketch.sign[17]
    with pytest.raises(ConfigError, match="built for 10000-d"):
        sketch(np.zeros(5))


def test_kmeans_recovers_separated_groups_with_distinct_seeds():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(40, 8)) + 20 * i for i in range(4)]).astype(np.float32)
    labels = kmeans_labels(x, k=4, num_c=3)
    assert labels.shape == (3, 160) and labels.dtype == np.int64
    truth = np.repeat(np.arange(4), 40)
    scores = [normalized_mutual_info_score(truth, run) for run in labels]
    assert min(scores) > 0.75 and max(scores) == pytest.approx(1)  # one init each: local minima
    noisy = kmeans_labels(rng.normal(size=(200, 4)).astype(np.float32), k=10, num_c=2)
    assert not np.array_equal(noisy[0], noisy[1])  # seeds 1234 and 1235 differ
    with pytest.raises(ConfigError, match="1 ≤ k ≤ N"):
        kmeans_labels(x, k=500)


def _write_video(path, frames):
    import cv2

    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (frames.shape[2], frames.shape[1])
    )
    for frame in frames:
        writer.write(frame[..., ::-1])
    writer.release()


def test_cli_extract_list_in_worker_processes_equals_one_process(tmp_path):
    from tests.idt.test_trajectories import _panning_video

    videos = tmp_path / "videos"
    videos.mkdir()
    for name, frames in (("a", 18), ("b", 20), ("c", 22)):
        _write_video(videos / f"{name}.avi", _panning_video(frames=frames, square=True))
    (videos / "broken.avi").write_bytes(b"not a video at all")
    listing = tmp_path / "list.txt"
    listing.write_text("a.avi\nbroken.avi\nb.avi\nc.avi\n")
    outputs = {}
    for workers in (1, 2):
        out = outputs[workers] = tmp_path / f"workers{workers}"
        result = run_cli(
            "vidssl-idt",
            "extract",
            "--list",
            str(listing),
            "--root",
            str(videos),
            "-o",
            str(out),
            "--mode",
            "idt",
            "--workers",
            str(workers),
            check=True,
        )
        assert f"3 of 4 videos done in {out} ({workers} worker processes), 1 failed" in result.stdout
        assert (out / "failed.txt").read_text().startswith("broken.avi\tDataError: video ")
    for name in "abc":
        one, two = (np.load(outputs[w] / f"{name}.npz")["trajectories"] for w in (1, 2))
        assert len(one) > 0 and np.array_equal(one, two)


def test_cli_extract_list_is_resumable_and_survives_a_broken_video(tmp_path):
    from tests.idt.test_trajectories import _panning_video

    videos = tmp_path / "videos"
    videos.mkdir()
    _write_video(videos / "pan.avi", _panning_video(frames=20))
    _write_video(videos / "square.avi", _panning_video(frames=20, square=True))
    (videos / "broken.avi").write_bytes(b"not a video at all")
    listing = tmp_path / "list.txt"
    listing.write_text("pan.avi 20 0\nbroken.avi 20 1\nsquare.avi 20 1\n")
    out = tmp_path / "idt"
    result = run_cli(
        "vidssl-idt", "extract", "--list", str(listing), "--root", str(videos), "-o", str(out), "--mode", "dt"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.npz")) == ["pan.npz", "square.npz"]
    assert "broken.avi" in (out / "failed.txt").read_text()
    assert "2 of 3 videos done" in result.stdout
    stamp = (out / "pan.npz").stat().st_mtime_ns
    run_cli(
        "vidssl-idt",
        "extract",
        "--list",
        str(listing),
        "--root",
        str(videos),
        "-o",
        str(out),
        "--shard",
        "0/2",
        check=True,
    )
    assert (out / "pan.npz").stat().st_mtime_ns == stamp  # finished videos are skipped

    # a SLURM array job (--array=1-2): each task its share, then the failure logs merged
    sharded = tmp_path / "sharded"
    slurm = {"SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2"}
    merge = ["vidssl-idt", "merge", str(sharded), "--list", str(listing)]
    first = run_cli(
        "vidssl-idt",
        "extract",
        "--list",
        str(listing),
        "--root",
        str(videos),
        "-o",
        str(sharded),
        "--mode",
        "dt",
        env={**slurm, "SLURM_ARRAY_TASK_ID": "1"},
        check=True,
    )
    assert "shard 0/2: 2 of 2 videos" in first.stdout
    unfinished = run_cli(*merge)
    assert unfinished.returncode == 1 and "1 videos not done yet" in unfinished.stderr
    run_cli(
        "vidssl-idt",
        "extract",
        "--list",
        str(listing),
        "--root",
        str(videos),
        "-o",
        str(sharded),
        "--mode",
        "dt",
        env={**slurm, "SLURM_ARRAY_TASK_ID": "2"},
    )
    assert "broken.avi" in (sharded / "failed.shard1of2.txt").read_text()
    merged = run_cli(*merge, check=True)
    assert "2 of 3 videos have trajectories, 1 failed" in merged.stdout
    assert (sharded / "failed.txt").read_text().startswith("broken.avi\t")

    boxes = tmp_path / "boxes"
    boxes.mkdir()
    (boxes / "square.bb").write_text("".join(f"{t} 55 {15 + 3 * t} 90 {50 + 3 * t} 0.9\n" for t in range(20)))
    run_cli(
        "vidssl-idt",
        "extract",
        "--list",
        str(listing),
        "--root",
        str(videos),
        "-o",
        str(tmp_path / "improved"),
        "--boxes-dir",
        str(boxes),
        "--format",
        "gz",
        check=True,
    )
    assert sorted(p.name for p in (tmp_path / "improved").glob("*.gz")) == ["pan.gz", "square.gz"]

    model = tmp_path / "model.npz"
    run_cli(
        "vidssl-idt",
        "fit",
        str(out),
        "-o",
        str(model),
        "--k",
        "2",
        "--pca",
        "4",
        "--samples",
        "50",
        check=True,
    )
    features = tmp_path / "fv"
    run_cli(
        "vidssl-idt",
        "encode",
        str(out),
        "--model",
        str(model),
        "-o",
        str(features),
        "--sketch",
        "16",
        check=True,
    )
    assert np.load(features / "pan.npy").shape == (16,)
    clusters = tmp_path / "clusters"
    result = run_cli(
        "vidssl-idt",
        "cluster",
        str(features),
        "--annotation",
        str(listing),
        "-o",
        str(clusters),
        "--k",
        "2",
        "--num-c",
        "2",
        check=True,
    )
    labels = np.load(clusters / "cluster_labels.npy")
    assert labels.shape == (2, 2) and labels.dtype == np.int64
    # the filtered list keeps the format and order, without the video that has no features
    assert (clusters / "list.txt").read_text() == "pan.avi 20 0\nsquare.avi 20 1\n"


def test_cli_cluster_filters_3d_resnets_json(tmp_path):
    features = tmp_path / "fv"
    features.mkdir()
    for i, name in enumerate(["a", "c"]):
        np.save(features / f"{name}.npy", np.full(4, float(i), np.float32))
    annotation = tmp_path / "ann.json"
    database = {
        "a": {"subset": "training"},
        "b": {"subset": "training"},
        "c": {"subset": "training"},
        "t": {"subset": "validation"},
    }
    annotation.write_text(json.dumps({"labels": ["x"], "database": database}))
    run_cli(
        "vidssl-idt",
        "cluster",
        str(features),
        "--annotation",
        str(annotation),
        "-o",
        str(tmp_path / "out"),
        "--k",
        "2",
        "--num-c",
        "1",
        check=True,
    )
    kept = json.loads((tmp_path / "out" / "ann.json").read_text())["database"]
    assert list(kept) == ["a", "c", "t"]
    assert np.load(tmp_path / "out" / "cluster_labels.npy").shape == (1, 2)
    bad = run_cli("vidssl-idt", "extract", str(tmp_path / "missing.avi"), "-o", str(tmp_path / "x.npz"))
    assert bad.returncode == 1 and "missing.avi" in bad.stderr


def test_fv_model_sample_keeps_short_videos_whole_as_the_seed():
    videos = [np.random.default_rng(n).random((n, N_COLUMNS)).astype(np.float32) for n in (30, 500, 800)]
    sizes = [len(sample_descriptors([v], 500)) for v in videos]
    assert sizes == [30, 500, 500]
    assert np.allclose(
        np.sort(sample_descriptors([videos[0]], 500), 0), np.sort(np.round(videos[0], 3), 0)
    ), "every row of the short video"


def test_videos_without_trajectories_are_dropped_or_kept_with_label_minus_one(tmp_path):
    import torch

    import vidssl
    from vidssl import EvaluationContext, RunContext, get_plugins
    from vidssl_datasets import synthetic_motion as sm
    from vidssl_idt.extractors import IDTClusters

    cfg = sm.SyntheticMotionConfig(size=48, frames=16)
    names = []
    for i in range(4):
        names.append(f"moving{i}.avi")
        sm.write_video(tmp_path / names[-1], sm.render_video(i, [i], cfg, *sm.split_families("train")))
    names.insert(2, "still.avi")  # a still frame: no track survives the static-track pruning
    sm.write_video(tmp_path / "still.avi", np.full((16, 48, 48, 3), 90, np.uint8))
    dataset = vidssl.build(
        "dataset", {"type": "video_files", "paths": names, "root": str(tmp_path)}, views={}
    )
    run = RunContext({}, tmp_path, torch.device("cpu"), get_plugins())
    results = {}
    for policy in ("drop", "ignore"):
        extractor = IDTClusters(
            mode="dt",
            trajectory=dict(patch_size=16, min_distance=3),
            samples_per_video=50,
            gmm_components=2,
            sketch_dim=16,
            k=2,
            num_c=2,
            out=f"idt_{policy}",
            no_trajectory=policy,
        )
        metrics = extractor.run(EvaluationContext(run, None, None, dataset, 1, 0))
        out = tmp_path / f"idt_{policy}"
        results[policy] = (
            np.load(out / "kept_rows.npy"),
            np.load(out / "cluster_labels.npy"),
            np.load(out / "features.npy"),
            metrics,
        )
    rows, labels, features, metrics = results["drop"]
    assert rows.tolist() == [0, 1, 3, 4] and labels.shape == (2, 4) and len(features) == 4
    assert metrics["videos_without_trajectories"] == 1 and (labels >= 0).all()
    rows, labels, features, _ = results["ignore"]
    assert rows.tolist() == [0, 1, 2, 3, 4] and labels.shape == (2, 5)
    assert (labels[:, 2] == -1).all() and (np.delete(labels, 2, axis=1) >= 0).all()
