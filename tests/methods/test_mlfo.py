"""MLFO (seed 003): Sinkhorn, graph targets, each loss term on hand-checkable inputs, the
motion-excitation block and a real training step with the queue and the graph constraint."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

import vidssl
from vidssl_methods.mlfo import (
    MotionExcitation,
    graph_targets,
    info_nce,
    pair_contrast,
    sinkhorn,
    timestamp_loss,
)


def test_sinkhorn_rows_are_distributions_and_prototypes_balance_with_iterations():
    torch.manual_seed(0)
    scores = torch.randn(64, 8) * 0.2 + torch.linspace(0, 0.3, 8)  # prototype 7 favoured
    imbalance = []
    for iterations in (0, 1, 3, 10):
        q = sinkhorn(scores, epsilon=0.05, iterations=iterations)
        assert torch.allclose(q.sum(1), torch.ones(64), atol=1e-5)
        imbalance.append(float((q.mean(0) - 1 / 8).abs().max()))
    assert imbalance[0] > imbalance[1] > imbalance[3] and imbalance[3] < 0.01
    extreme = sinkhorn(torch.tensor([[1e4, 0.0], [0.0, 1e4]]), 0.05, 3)  # overflow-safe
    assert torch.isfinite(extreme).all()


def test_graph_targets_rows_sum_to_one_and_respect_clusters_and_threshold():
    z = F.normalize(torch.randn(6, 16), dim=1)
    clusters = torch.tensor([0, 0, 1, 1, 1, 2])
    g = graph_targets(z, z, clusters, temperature=0.07, threshold=0.05)
    assert torch.allclose(g.sum(1), torch.ones(6))
    assert (g[clusters[:, None] != clusters[None, :]] == 0).all()
    assert g[5, 5] == 1  # alone in its cluster: self-loop only
    s = torch.softmax(z @ z.t() / 0.07, 1)
    off = ~torch.eye(6, dtype=torch.bool)
    assert (g[off & (s < 0.05)] == 0).all()


def test_info_nce_by_hand():
    e = torch.eye(3)
    tau = 0.5
    loss = info_nce(e[:1], e[:1], torch.stack([e[1:3]]), tau)
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_pair_contrast_negatives_are_the_other_videos_clips_and_extras():
    e = torch.eye(4)
    z1, z2 = e[:2], e[:2]  # video 0 and 1: clip 1 == clip 2; videos orthogonal
    tau = 1.0
    loss = pair_contrast(z1, z2, slice(0, 2), tau)
    # anchor·positive = 1; two negatives (the other video's clips) at 0
    assert float(loss) == pytest.approx(-math.log(math.e / (math.e + 2)), rel=1e-6)
    reversed_clips = torch.stack([e[:2], e[:2]], 1)  # b×2×d; identical to the anchor
    loss = pair_contrast(z1, z2, slice(0, 2), tau, reversed_clips)
    assert float(loss) == pytest.approx(-math.log(math.e / (3 * math.e + 2)), rel=1e-6)


def test_timestamp_loss_is_low_when_steps_match_and_high_when_shuffled():
    torch.manual_seed(0)
    steps = F.normalize(torch.randn(2, 16, 4), dim=1) * 5
    first, second = steps[:, :, :2].repeat_interleave(2, 2), steps[:, :, 2:].repeat_interleave(2, 2)
    good = timestamp_loss(first, second, steps, 0.07)
    bad = timestamp_loss(first, second, steps.flip(2), 0.07)
    assert float(good) < 0.05 < float(bad)


def test_motion_excitation_leaves_the_last_step_alone_and_has_the_seed_parameters():
    block = MotionExcitation(128)
    assert sum(p.numel() for p in block.parameters()) == 2392
    assert sum(p.numel() for p in MotionExcitation(256).parameters()) == 8880
    block.eval()
    still = torch.randn(2, 128, 1, 5, 5).repeat(1, 1, 4, 1, 1)
    out = block(still)
    # the motion term is conv(r_{t+1}) − r_t, not zero for a still video, but the last step
    # has none: attention there is sigmoid(BN(0)) − 0.5 = 0 with fresh BatchNorm
    assert torch.allclose(out[:, :, -1], still[:, :, -1], atol=1e-6)


def test_mlfo_training_step_with_queue_and_graph():
    backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.125, stem_pool="1x3x3"))
    method = vidssl.build(
        "method",
        dict(type="mlfo", num_prototypes=6, steps=[4, 2, 2], queue_size=8, queue_epoch=1, split=2),
        backbone=backbone,
    )
    params = sum(p.numel() for n, p in method.named_parameters() if not n.startswith("backbone"))
    assert params > 0 and method.views["second"]["same_time_as"] == "first"
    batch = {"views": {k: torch.randn(4, 3, 8, 16, 16) for k in ("first", "second", "global")}}
    for epoch, expect_graph in ((0, False), (1, False), (2, True)):
        method.start_epoch(epoch)
        queue = method.queue.clone()
        out = method(batch)
        out["loss"].backward()
        assert ("graph" in out) == expect_graph
        assert torch.isfinite(out["loss"])
        if epoch == 0:
            assert (
                method.prototypes.weight.grad is None or float(method.prototypes.weight.grad.abs().sum()) == 0
            )
        # every step's batch is enqueued (from epoch 0 on, as the seed's process_queue)
        assert torch.equal(method.queue[:-4], queue[4:])
        assert not torch.equal(method.queue[-4:], queue[-4:])
        method.zero_grad()
    assert int(method.state_dict()["epoch"]) == 2  # resumes at the right phase


def small_mlfo(**kwargs):
    backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.125, stem_pool="1x3x3"))
    return vidssl.build(
        "method", dict(type="mlfo", num_prototypes=6, steps=[4, 2, 2], **kwargs), backbone=backbone
    )


def test_queue_holds_real_scores_when_it_is_first_used():
    """Seed 003 enqueues from the first step and uses the queue from queue_epoch: by then its
    rows are the scores of the last steps, not its random initial rows."""
    torch.manual_seed(0)
    method = small_mlfo(queue_size=8, queue_epoch=1)
    initial = method.queue.clone()
    method.start_epoch(0)
    for _ in range(2):  # 2 steps × 4 videos fill the 8 rows
        method({"views": {k: torch.randn(4, 3, 8, 16, 16) for k in ("first", "second", "global")}})
    assert not (method.queue.unsqueeze(1) == initial.unsqueeze(0)).all(-1).all(-1).any(), (
        "no initial row is left"
    )
    # the rows are prototype scores: cosine similarities of unit vectors with unit prototypes
    assert float(method.queue.abs().max()) <= 1 + 1e-5 < float(initial.abs().max())


def test_the_three_views_share_one_batch_for_batchnorm():
    """As the seed's forward_multi: one BatchNorm pass over the 3·b clips, so running statistics
    after a step equal those of the backbone run once on the concatenated views."""
    torch.manual_seed(0)
    method = small_mlfo()
    reference = copy.deepcopy(method.backbone)
    views = {k: torch.randn(4, 3, 8, 16, 16) for k in ("first", "second", "global")}
    method.train()
    method({"views": views})
    reference.train()
    reference.forward_features(torch.cat([views["first"], views["second"], views["global"]]))
    stats = [(n, b) for n, b in method.backbone.named_buffers() if "running" in n]
    assert stats
    for name, buffer in stats:
        assert torch.allclose(buffer, dict(reference.named_buffers())[name], atol=1e-6), name
