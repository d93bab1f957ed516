"""VTDL: the loss on hand-checkable inputs, TCA's defining property, the queue, and a real
training step through the runner's dataset views."""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

import vidssl
from vidssl_methods.vtdl import contrastive_logits, temporal_consistent_mix


def test_tca_scales_every_temporal_difference_by_one_minus_lambda():
    clip = torch.randn(3, 3, 8, 6, 6, dtype=torch.float64)
    frames = torch.tensor([0, 5, 7])
    for lam in (0.0, 0.03, 0.1):
        mixed = temporal_consistent_mix(clip, lam, frames)
        assert torch.allclose(mixed.diff(dim=2), (1 - lam) * clip.diff(dim=2))
        assert torch.allclose(mixed.diff(n=2, dim=2), (1 - lam) * clip.diff(n=2, dim=2))
    # the blended-in frame is the sample's own frame r
    assert torch.allclose(temporal_consistent_mix(clip, 1.0, frames)[1, :, 3], clip[1, :, 5])


def test_info_nce_on_hand_checkable_vectors():
    e = torch.eye(4)
    q, k = e[:1], e[:1]              # positive similarity 1
    queue = e[1:3]                   # two orthogonal negatives: similarity 0
    n = -e[:1]                       # temporal negative: similarity -1
    tau = 0.5
    logits = contrastive_logits(q, k, queue, n, tau)
    assert torch.allclose(logits, torch.tensor([[2.0, 0.0, 0.0, -2.0]]))
    loss = F.cross_entropy(logits, torch.zeros(1, dtype=torch.long))
    expected = -math.log(math.exp(2) / (math.exp(2) + 2 + math.exp(-2)))
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    # without the temporal negative the denominator loses its term
    plain = F.cross_entropy(contrastive_logits(q, k, queue, None, tau), torch.zeros(1, dtype=torch.long))
    assert math.isclose(plain.item(), -math.log(math.exp(2) / (math.exp(2) + 2)), rel_tol=1e-6)


def small_vtdl(**kwargs):
    backbone = vidssl.build("backbone", {"type": "r3d", "depth": 10, "width": 0.125})
    return vidssl.build("method", {"type": "vtdl", "queue_size": 6, **kwargs}, backbone=backbone)


def test_views_queue_and_momentum_encoder_after_real_steps():
    torch.manual_seed(0)
    method = small_vtdl()
    assert set(method.views) == {"query", "key", "negative"}
    assert method.views["negative"]["different_time_from"] == "query"
    assert "negative" not in small_vtdl(temporal_negative=False).views
    dataset = vidssl.build("dataset", {"type": "synthetic_motion", "split": "unlabeled",
                                       "unlabeled_size": 8, "view": {"clip_len": 4, "stride": 2, "size": 16}},
                           views=method.views)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(4)])
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1)
    queue_before = method.queue.clone()
    key_before = [p.clone() for p in method.key_backbone.parameters()]
    for step in range(2):
        losses = method(batch)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        assert torch.isfinite(losses["loss"])
    assert int(method.queue_ptr) == 8 % 6
    assert torch.allclose(method.queue.norm(dim=1)[:2], torch.ones(2)), "wrapped rows hold keys"
    assert not torch.equal(method.queue, queue_before)
    assert all(not p.requires_grad for p in method.key_backbone.parameters())
    moved = [not torch.equal(a, b) for a, b in zip(key_before, method.key_backbone.parameters())]
    assert any(moved), "the key encoder follows the online encoder by momentum"
    state = method.state_dict()
    assert "queue" in state and "queue_ptr" in state and any(k.startswith("key_backbone.") for k in state)


def test_anchor_and_negative_share_one_online_batch():
    """As the seed: the online encoder sees anchor and negative as one batch, so its BatchNorm
    running statistics after a step equal those of one pass over both."""
    torch.manual_seed(0)
    method = small_vtdl(tca=False)
    reference = copy.deepcopy(method.backbone)
    views = {k: torch.randn(4, 3, 4, 16, 16) for k in ("query", "key", "negative")}
    method.train()
    method({"views": views})
    reference.train()
    reference(torch.cat([views["query"], views["negative"]]))
    stats = [(n, b) for n, b in method.backbone.named_buffers() if "running" in n]
    assert stats
    for name, buffer in stats:
        assert torch.allclose(buffer, dict(reference.named_buffers())[name], atol=1e-6), name
