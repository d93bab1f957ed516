"""Evaluation protocols: accuracy metrics, multi-clip averaging, retrieval recall, fine-tuning
freezes, feature extraction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vidssl
from conftest import run_cli
from vidssl import ConfigError, per_video
from vidssl_methods.classification_evaluator import classification_metrics
from vidssl_methods.retrieval_evaluator import recall_at_k


def test_classification_metrics_by_hand():
    scores = np.array(
        [[0.9, 0.1, 0, 0, 0, 0], [0.1, 0.2, 0.7, 0, 0, 0], [0, 0, 0, 0, 0.4, 0.6], [0.3, 0.2, 0.1, 0, 0, 0.4]]
    )
    labels = np.array([0, 1, 5, 0])
    metrics = classification_metrics(scores, labels)
    assert metrics["top1"] == 50.0  # rows 0 and 2
    assert metrics["top5"] == 100.0
    assert metrics["mean_class_acc"] == pytest.approx(100 * (0.5 + 0 + 1) / 3)


def test_multi_clip_multi_crop_views_are_averaged_per_video():
    clip = torch.arange(2 * 3 * 2, dtype=torch.float32).view(2, 3, 2, 1, 1, 1, 1).expand(2, 3, 2, 3, 1, 1, 1)
    # fn returns the clip's value as a 1-d "score": the average over 3 clips × 2 crops
    out = per_video(lambda x: x.flatten(1)[:, :1], clip)
    assert torch.equal(out.squeeze(1), torch.tensor([2.5, 8.5]))
    soft = per_video(lambda x: torch.stack([x.flatten(1)[:, 0], torch.zeros(len(x))], 1), clip, softmax=True)
    assert torch.allclose(soft.sum(1), torch.ones(2))


def test_recall_at_k_by_hand():
    gallery = np.array([[1.0, 0], [0.9, 0.1], [0, 1.0], [-1.0, 0]])
    gallery_labels = np.array([0, 1, 1, 2])
    queries = np.array([[1.0, 0.05], [0.0, 0.9]])
    query_labels = np.array([1, 2])
    # centred by the gallery mean (0.225, 0.275): query 0 is nearest to row 1 (cos 1.000, its
    # class: hit at 1); query 1 ranks rows 2 (0.999, class 1), 3 (0.124, class 2): hit at 2
    recall = recall_at_k(queries, query_labels, gallery, gallery_labels, [1, 2, 4])
    assert recall == {"R@1": 50.0, "R@2": 100.0, "R@4": 100.0}


def test_ft_begin_index_freezes_the_stem_and_lower_stages():
    backbone = vidssl.build("backbone", {"type": "r3d", "depth": 10, "width": 0.125})
    vidssl.build("method", {"type": "supervised", "num_classes": 5, "ft_begin_index": 2}, backbone=backbone)
    frozen = {n.split(".")[0] for n, p in backbone.named_parameters() if not p.requires_grad}
    trained = {n.split(".")[0] for n, p in backbone.named_parameters() if p.requires_grad}
    assert frozen == {"stem", "layer1"} and trained == {"layer2", "layer3", "layer4"}
    with pytest.raises(ConfigError, match="ft_begin_index=2 needs a backbone with stages named stem"):
        vidssl.build(
            "method",
            {"type": "supervised", "num_classes": 5, "ft_begin_index": 2},
            backbone=vidssl.build("backbone", {"type": "c3d"}),
        )


@pytest.mark.slow
def test_extract_writes_features_and_index(tiny_config, tmp_path):
    work = tmp_path / "run"
    run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), "--stages", "probe_random", check=True)
    out = tmp_path / "feats.npy"
    result = run_cli(
        "vidssl-extract",
        str(tiny_config),
        "--checkpoint",
        str(work / "checkpoints" / "stage_probe_random.pt"),
        "--out",
        str(out),
        check=True,
    )
    features = np.load(out)
    assert features.shape == (20, 64) and np.isfinite(features).all()
    index = out.with_suffix(".index.tsv").read_text().splitlines()
    assert index[0] == "row\tvideo\tlabel" and len(index) == 21
    assert index[1].split("\t")[1].endswith(".avi")
    assert "wrote" in result.stdout
