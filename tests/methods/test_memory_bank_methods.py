"""Instance recognition and local aggregation (seed 000): losses on hand-checkable inputs, the
memory bank, cluster sources, checkpoint state and a 2-process bank update."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import vidssl
from conftest import in_two_processes
from vidssl import ConfigError, DataError, kmeans_labels
from vidssl_methods.instance_recognition import SEED_Z, nce_loss
from vidssl_methods.local_aggregation import local_aggregation_loss
from vidssl_methods.memory_bank import MemoryBank


def test_la_loss_is_zero_when_every_neighbour_is_close():
    similarity = torch.randn(4, 10)
    labels = torch.zeros(3, 10, dtype=torch.long)
    loss = local_aggregation_loss(similarity, torch.arange(4), labels, 5, 0.07)
    assert abs(float(loss)) < 1e-6


def test_la_loss_on_a_small_example_computed_by_hand():
    # 1 anchor (row 0), 4 bank rows; background k = 3 → rows 0, 1, 2 (similarities 1, .5, .2)
    similarity = torch.tensor([[1.0, 0.5, 0.2, -1.0]])
    labels = torch.tensor(
        [
            [0, 1, 0, 0],  # clustering 1: row 2 is close
            [5, 5, 6, 7],
        ]
    )  # clustering 2: row 1 is close
    tau = 0.5
    loss = local_aggregation_loss(similarity, torch.tensor([0]), labels, 3, tau)
    p = [math.exp(s / tau) for s in (1.0, 0.5, 0.2)]
    expected = -math.log(sum(p) / sum(p) + 1e-7)  # rows 0, 1, 2 are all close (OR)
    assert float(loss) == pytest.approx(expected, abs=1e-6)
    labels_one = labels[:1]  # only clustering 1: rows 0 and 2
    loss = local_aggregation_loss(similarity, torch.tensor([0]), labels_one, 3, tau)
    assert float(loss) == pytest.approx(-math.log((p[0] + p[2]) / sum(p) + 1e-7), abs=1e-6)
    # k = N: the whole bank is the background
    loss = local_aggregation_loss(similarity, torch.tensor([0]), labels_one, 4, tau)
    p_all = p + [math.exp(-1.0 / tau)]
    expected = -math.log((p_all[0] + p_all[2] + p_all[3]) / sum(p_all) + 1e-7)
    assert float(loss) == pytest.approx(expected, abs=1e-6)
    # label -1 (a video kept without trajectories): only its own row is close
    unlabelled = torch.tensor([[-1, -1, 0, -1]])
    loss = local_aggregation_loss(similarity, torch.tensor([0]), unlabelled, 4, tau)
    assert float(loss) == pytest.approx(-math.log(p_all[0] / sum(p_all) + 1e-7), abs=1e-6)


def test_nce_loss_matches_the_seed_formula():
    positive, noise = torch.tensor([0.9]), torch.tensor([[0.1, -0.3]])
    n_data, z, tau, eps = 100, SEED_Z, 0.07, 1e-7
    pb = 2 / n_data
    p_pos = math.exp(0.9 / tau) / z
    expected = -(
        math.log(p_pos / (p_pos + pb + eps))
        + sum(math.log(pb / (math.exp(s / tau) / z + pb + eps)) for s in (0.1, -0.3))
    )
    assert float(nce_loss(positive, noise, n_data, z, tau)) == pytest.approx(expected, rel=1e-5)


def test_memory_bank_rows_stay_unit_norm_and_move_by_momentum():
    bank = MemoryBank(8)
    bank.resize(20, seed=1)
    assert torch.allclose(bank.memory.norm(dim=1), torch.ones(20))
    before = bank.memory.clone()
    v = F.normalize(torch.randn(3, 8), dim=1)
    bank.update(torch.tensor([2, 5, 7]), v, momentum=0.5)
    assert torch.allclose(bank.memory.norm(dim=1), torch.ones(20), atol=1e-6)
    assert torch.allclose(bank.memory[5], F.normalize(0.5 * before[5] + 0.5 * v[1], dim=0))
    assert torch.equal(bank.memory[0], before[0])


class _Clips(torch.utils.data.Dataset):
    """N random clips (only len() matters to prepare())."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def _method(kind: str, **kwargs):
    backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.125, stem_pool="1x3x3"))
    return vidssl.build("method", dict(type=kind, **kwargs), backbone=backbone)


def _batch(rows):
    return {"views": {"clip": torch.randn(len(rows), 3, 4, 16, 16)}, "index": torch.tensor(rows)}


def test_ir_training_step_learns_and_checkpoints_its_bank(tmp_path):
    ir = _method("instance_recognition", num_noise=16, z=None)
    ir.prepare(_Clips(12), tmp_path)
    assert ir.bank.memory.shape == (12, 128)
    out = ir.training_step(_batch([0, 3, 5]))
    out["loss"].backward()
    assert float(ir.z) > 0 and ir.head.fc.weight.grad is not None
    fresh = _method("instance_recognition", num_noise=16, z=None)
    fresh.prepare(_Clips(12), tmp_path)
    fresh.load_state_dict(ir.state_dict())
    assert torch.equal(fresh.bank.memory, ir.bank.memory) and float(fresh.z) == float(ir.z)


def test_la_cluster_sources(tmp_path):
    (tmp_path / "idt").mkdir()
    labels = np.array([[0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1]], np.int64)
    np.save(tmp_path / "idt" / "cluster_labels.npy", labels)
    la = _method("local_aggregation", clusters="file", background_k=4)
    la.prepare(_Clips(6), tmp_path)
    assert la.cluster_labels.tolist() == labels.tolist()
    la.training_step(_batch([0, 4]))["loss"].backward()
    with pytest.raises(DataError, match=r"cluster_labels.npy: expected integer cluster labels"):
        la.prepare(_Clips(7), tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        _method("local_aggregation", clusters="file", cluster_file="nope.npy").prepare(_Clips(6), tmp_path)

    np.save(tmp_path / "idt" / "features.npy", np.random.rand(6, 5).astype(np.float32))
    tune = _method("local_aggregation", clusters="bank+features", k=2, num_c=2, background_k=4)
    tune.prepare(_Clips(6), tmp_path)
    assert tune.cluster_labels.tolist() == [list(range(6))] * 2  # own cluster before k-means
    tune.start_epoch(0)
    assert tune.cluster_labels.shape == (2, 6) and set(tune.cluster_labels.flatten().tolist()) <= {0, 1}
    plain = _method("local_aggregation", clusters="bank", k=3, num_c=1)
    plain.prepare(_Clips(6), tmp_path)
    plain.start_epoch(0)
    assert len(set(plain.cluster_labels[0].tolist())) == 3


def _bank_update(rank: int) -> torch.Tensor:
    bank = MemoryBank(4)
    bank.resize(6, seed=0)
    local = F.normalize(torch.full((1, 4), float(rank + 1)) + torch.arange(4.0), dim=1)
    bank.update(torch.tensor([rank * 3]), local, momentum=0.0)  # ranks update rows 0 and 3
    return bank.memory.clone()


@pytest.mark.slow
def test_bank_updates_are_gathered_so_ranks_agree():
    out = in_two_processes(_bank_update)
    assert torch.equal(out[0], out[1])
    for rank in (0, 1):
        expected = F.normalize(torch.full((4,), float(rank + 1)) + torch.arange(4.0), dim=0)
        assert torch.allclose(out[0][rank * 3], expected)


def seed_reclusters_after(n: int, batch_size: int) -> list[int]:
    """The batches of an epoch after which seed 000 re-clusters: ``batch_i == N // batch_size``,
    i.e. the partial last batch, which does not exist when N is a multiple of the batch size."""
    return [i for i in range(math.ceil(n / batch_size)) if i == n // batch_size]


def test_epoch_start_clustering_gives_the_seed_labels_for_the_same_bank(tmp_path):
    """vidssl clusters at each epoch start; the seed at the first iteration and after the epoch's
    partial last batch. Nothing touches the bank between those points, so the labels are the
    seed's. The seed's divisible-N case (no re-clustering at all) is not reproduced."""
    assert seed_reclusters_after(10, 4) == [2] and seed_reclusters_after(8, 4) == []
    torch.manual_seed(0)
    la = _method("local_aggregation", clusters="bank", k=3, num_c=2, background_k=6)
    la.prepare(_Clips(10), tmp_path)
    seed_labels = kmeans_labels(la.bank.memory.numpy().copy(), 3, 2, 20, 1234)  # first iteration
    la.start_epoch(0)
    assert la.cluster_labels.tolist() == seed_labels.tolist()
    for i, rows in enumerate(([0, 1, 2, 3], [4, 5, 6, 7], [8, 9])):
        la.training_step(_batch(rows))["loss"].backward()
        if i in seed_reclusters_after(10, 4):
            seed_labels = kmeans_labels(la.bank.memory.numpy().copy(), 3, 2, 20, 1234)
    la.start_epoch(1)
    assert la.cluster_labels.tolist() == seed_labels.tolist()
