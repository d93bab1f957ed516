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
    q, k = e[:1], e[:1]  # positive similarity 1
    queue = e[1:3]  # two orthogonal negatives: similarity 0
    n = -e[:1]  # temporal negative: similarity -1
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
    dataset = vidssl.build(
        "dataset",
        {
            "type": "synthetic_motion",
            "split": "unlabeled",
            "unlabeled_size": 8,
            "view": {"clip_len": 4, "stride": 2, "size": 16},
        },
        views=method.views,
    )
    batch = torch.utils.data.default_collate([dataset[i] for i in range(4)])
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1)
    queue_before = method.queue.clone()
    key_before = [p.clone() for p in method.key_backbone.parameters()]
    for _step in range(2):
        losses = method(batch)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        assert torch.isfinite(losses["loss"])
    assert int(method.queue_ptr) == 8 % 6
    assert torch.allclose(method.queue.norm(dim=1)[:2], torch.ones(2)), "wrapped rows hold keys"
    assert not torch.equal(method.queue, queue_before)
    assert all(not p.requires_grad for p in method.key_backbone.parameters())
    moved = [not torch.equal(a, b) for a, b in zip(key_before, method.key_backbone.parameters(), strict=True)]
    assert any(moved), "the key encoder follows the online encoder by momentum"
    state = method.state_dict()
    assert "queue" in state and "queue_ptr" in state and any(k.startswith("key_backbone.") for k in state)


def seed_vtdl_step(model, model_ema, memory, optimizer, views, tca_max, temperature, momentum):
    """Seed 002's ``train_temporal_dis.py::train_moco`` step written out on vidssl's modules:
    TCA on the anchor, ``model(anchor)``, the key through ``model_ema`` (BatchNorm in train mode;
    Shuffle-BN is the identity in one process), ``model(negative)`` as a second online pass,
    ``MemoryMoCo``'s logits and FIFO write at its index (``memory = {"queue", "index"}``), the
    optimizer step, then ``moment_update``."""
    anchor = views["query"]
    lam = float(torch.rand(()) * tca_max)
    frames = torch.randint(anchor.shape[2], (anchor.shape[0],))
    still = anchor[torch.arange(anchor.shape[0]), :, frames]
    anchor = (1 - lam) * anchor + lam * still.unsqueeze(2)
    feat_q = model(anchor)
    with torch.no_grad():
        feat_k = model_ema(views["key"])
    feat_n = model(views["negative"])
    logits = (
        torch.cat(
            [
                (feat_q * feat_k).sum(1, keepdim=True),
                feat_q @ memory["queue"].t(),
                (feat_q * feat_n).sum(1, keepdim=True),
            ],
            dim=1,
        )
        / temperature
    )
    loss = F.cross_entropy(logits, torch.zeros(anchor.shape[0], dtype=torch.long))
    optimizer.zero_grad()
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    optimizer.step()
    with torch.no_grad():
        size = memory["queue"].shape[0]
        memory["queue"].index_copy_(0, (torch.arange(feat_k.shape[0]) + memory["index"]) % size, feat_k)
        memory["index"] = (memory["index"] + feat_k.shape[0]) % size
        for ema, online in zip(model_ema.parameters(), model.parameters(), strict=True):
            ema.mul_(momentum).add_(online.detach(), alpha=1 - momentum)
    return loss.detach(), grads


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours.double() - reference.double()).norm() / reference.double().norm().clamp_min(1e-12))


def test_four_steps_equal_the_seeds_step_with_two_online_passes():
    """Loss (absolute), gradients, queue, BatchNorm statistics and key encoder (relative to
    their norm) over 4 steps equal seed 002's step within 1e-5 (anchor and
    negative as two online passes around the key pass). vidssl updates the key encoder before
    its key pass (MoCo style), the seed after ``optimizer.step()``: the same update one step
    later, so the seed's key encoder after 4 steps is compared with vidssl's after one more
    update."""
    torch.manual_seed(0)
    method = small_vtdl(queue_size=8).double()  # float64: rounding stays far below 1e-5
    method.train()
    model = torch.nn.Sequential(copy.deepcopy(method.backbone), copy.deepcopy(method.head)).train()
    model_ema = torch.nn.Sequential(copy.deepcopy(method.key_backbone), copy.deepcopy(method.key_head))
    model_ema.train()
    memory = {"queue": method.queue.clone(), "index": 0}
    ours = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.5, momentum=0.9)
    theirs = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    online = [*method.backbone.parameters(), *method.head.parameters()]
    for step in range(4):
        views = {k: torch.randn(4, 3, 4, 16, 16, dtype=torch.float64) for k in ("query", "key", "negative")}
        torch.manual_seed(100 + step)
        loss = method({"views": views})["loss"]
        ours.zero_grad()
        loss.backward()
        ours.step()
        torch.manual_seed(100 + step)
        seed_loss, seed_grads = seed_vtdl_step(
            model, model_ema, memory, theirs, views, method.tca_max, method.temperature, method.momentum
        )
        assert abs(loss.item() - seed_loss.item()) <= 1e-5, step
        for ours_param, grad in zip(online, seed_grads, strict=True):
            assert relative_error(ours_param.grad, grad) <= 1e-5, step
    assert int(method.queue_ptr) == memory["index"] == 16 % 8
    assert relative_error(method.queue, memory["queue"]) <= 1e-5
    ours_buffers = [*method.backbone.buffers()]
    for ours_buffer, seed_buffer in zip(ours_buffers, model[0].buffers(), strict=True):  # BN running stats
        assert relative_error(ours_buffer, seed_buffer) <= 1e-5
    method._momentum_update()  # the seed's update after the 4th optimizer step
    for key, ema in zip(
        [*method.key_backbone.parameters(), *method.key_head.parameters()],
        model_ema.parameters(),
        strict=True,
    ):
        assert relative_error(key, ema) <= 1e-5
