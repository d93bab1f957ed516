"""The throughput switches of a training stage: precision (bf16 trains on CPU, fp16's scaler state
survives a resume), memory format, accumulation, and the 2-process SyncBN and ShuffleBN."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from test_resume import assert_same_tensors
from torch import nn

import vidssl
from conftest import in_two_processes, run_cli
from vidssl import (
    ConfigError,
    Runner,
    checkpoint,
    distributed,
    get_plugins,
    hookimpl,
    load_config,
    validate_config,
)
from vidssl._distributed.sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm
from vidssl._speed.precision import check_bf16_gradients, clips_in, use_memory_format, use_precision


def test_a_misspelled_switch_names_the_key(tiny_config):
    for option, expected in (
        (
            "stages.1.precision=bf61",
            r"stages\[1\]\.precision: expected one "
            r"of 'auto', 'fp32', 'bf16', 'fp16'",
        ),
        ("stages.1.memory_format=channels_last", r"stages\[1\]\.memory_format"),
        ("stages.1.conv3d=fast", r"stages\[1\]\.conv3d"),
        ("keep_freed_memory=yes", r"keep_freed_memory"),
        ("stages.1.accumulate=0", r"stages\[1\]\.accumulate"),
    ):
        with pytest.raises(ConfigError, match=expected):
            validate_config(load_config(tiny_config, [option]), get_plugins().registry)


def test_backbone_autocasts_and_hands_back_fp32_in_channels_last():
    backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.125)).eval()
    clip = torch.randn(2, 3, 8, 32, 32)
    reference = backbone(clip)
    use_precision(backbone, "bf16", torch.device("cpu"))
    use_memory_format(backbone, "channels_last_3d")
    assert backbone.stem[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    batch = clips_in({"views": {"clip": clip}, "label": torch.zeros(2)}, "channels_last_3d")
    assert batch["views"]["clip"].is_contiguous(memory_format=torch.channels_last_3d)
    out = backbone(batch["views"]["clip"])
    maps = backbone.forward_features(clip)
    assert out.dtype == torch.float32 and all(m.dtype == torch.float32 for m in maps.values())
    error = float((out - reference).detach().norm() / reference.detach().norm())
    assert 0 < error < 0.05, "computed in bf16, close to fp32"
    use_precision(backbone, "fp32", torch.device("cpu"))
    assert type(backbone).__name__ == "ResNet3D"
    assert torch.allclose(backbone(clip), reference, atol=1e-5)


class _WrongInBf16(torch.autograd.Function):
    """A linear map whose weight gradient is garbage when computed in bf16 (as torch 2.14's CPU
    bf16 Conv3d weight gradient is on 2-frame inputs)."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return x @ weight.t()

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_weight = grad.t() @ x
        if grad.dtype == torch.bfloat16:
            grad_weight = torch.full_like(grad_weight, float("nan"))
        return grad @ weight, grad_weight


class WrongInBf16Linear(nn.Linear):
    def forward(self, x):
        if torch.is_autocast_enabled("cpu"):
            x, weight = x.bfloat16(), self.weight.bfloat16()
        else:
            x, weight = x, self.weight
        return _WrongInBf16.apply(x, weight) + self.bias.to(x.dtype)


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.good, self.wrong = nn.Linear(6, 5), WrongInBf16Linear(5, 4)

    def forward(self, x):
        return self.wrong(torch.relu(self.good(x)))


def test_the_bf16_gradient_check_runs_in_a_compiled_backbone_and_import_needs_no_dynamo(capfd):
    """torch.compile leaves the check out of its graph (it runs as Python, once per clip shape);
    the wrapper that does so is made by use_precision, so importing vidssl loads no torch._dynamo
    (~1.7 s of every command's start-up before)."""
    probe = "import sys, vidssl; print('torch._dynamo' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout == "False\n"
    torch.manual_seed(0)
    model = TwoLayers()
    use_precision(model, "bf16", torch.device("cpu"))
    model.compile(backend="eager")
    model(torch.randn(3, 6)).sum().backward()
    assert model._vidssl_checked == {(3, 6)}
    assert "bf16 gradients are wrong for wrong (input 3×5)" in capfd.readouterr().err


def test_the_bf16_gradient_check_moves_a_wrong_module_to_fp32(capfd):
    torch.manual_seed(0)
    model = TwoLayers()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    use_precision(model, "bf16", torch.device("cpu"))
    x = torch.randn(3, 6)
    random_state = torch.get_rng_state()
    assert check_bf16_gradients(model, x) == ["wrong"]
    assert (
        "bf16 gradients are wrong for wrong (input 3×5); these modules run in fp32" in capfd.readouterr().err
    )
    assert torch.equal(torch.get_rng_state(), random_state)
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    # the first training forward on a clip shape runs the check by itself; gradients are finite
    model = TwoLayers()
    use_precision(model, "bf16", torch.device("cpu"))
    model(torch.randn(8, 6)).square().sum().backward()
    assert torch.isfinite(model.wrong.weight.grad).all()
    assert type(model.wrong).__name__ == "Fp32WrongInBf16Linear"
    assert type(model.good) is nn.Linear
    use_precision(model, "fp32", torch.device("cpu"))
    assert type(model.wrong) is WrongInBf16Linear and type(model) is TwoLayers


class EmbeddingAndBilinear(nn.Module):
    """A plugin backbone with layers the bf16 check cannot feed one float input to: an
    ``Embedding`` (integer input) and a ``Bilinear`` (two inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.position = nn.Embedding(8, 4)
        self.pair = nn.Bilinear(4, 4, 4)
        self.conv = nn.Conv3d(3, 4, 3, padding=1)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        features = self.conv(clip).mean((3, 4)).transpose(1, 2)  # B × T × 4
        features = features + self.position(torch.arange(clip.shape[2]))
        return self.pair(features, features).mean(1)


def test_the_bf16_check_skips_layers_it_cannot_feed():
    torch.manual_seed(0)
    model = EmbeddingAndBilinear()
    use_precision(model, "bf16", torch.device("cpu"))
    model(torch.randn(2, 3, 4, 8, 8)).square().sum().backward()  # runs the check first
    assert model._vidssl_checked == {(2, 3, 4, 8, 8)}
    assert torch.isfinite(model.position.weight.grad).all()
    assert type(model.position) is nn.Embedding and type(model.pair) is nn.Bilinear


def test_bf16_gradients_of_the_demo_backbone_are_finite_and_repeatable_after_the_check():
    """On 8-frame clips layer3 sees 2 frames, where torch 2.14's CPU bf16 Conv3d weight gradient
    (on CPUs with native bf16) is garbage read from memory: it changes from one pass to the next
    and is sometimes inf or NaN, while right kernels repeat bit for bit. Whatever this CPU does,
    after the check every gradient of two identical passes is finite and identical."""
    torch.manual_seed(0)
    backbone = vidssl.build("backbone", dict(type="r3d", depth=18, width=0.25, stem_pool="1x3x3"))
    use_precision(backbone, "bf16", torch.device("cpu"))
    clips, projection = torch.randn(8, 3, 8, 32, 32), torch.randn(8, backbone.feat_dim)
    passes = []
    for _ in range(2):
        backbone.zero_grad()
        (backbone(clips) * projection).sum().backward()
        passes.append({n: p.grad.clone() for n, p in backbone.named_parameters()})
    for name, grad in passes[0].items():
        assert torch.isfinite(grad).all() and torch.equal(grad, passes[1][name]), name


@pytest.mark.slow
def test_bf16_trains(tiny_config, tmp_path):
    work = tmp_path / "bf16"
    run_cli(
        "vidssl-run",
        str(tiny_config),
        "--work-dir",
        str(work),
        "--stages",
        "supervised",
        "--cfg-options",
        "stages.1.precision=bf16",
        "stages.1.epochs=4",
        "stages.1.optimizer.lr=0.01",
        check=True,
    )
    epochs = [
        json.loads(line)
        for line in (work / "metrics.jsonl").read_text().splitlines()
        if '"event": "epoch"' in line
    ]
    assert epochs[-1]["loss"] < epochs[0]["loss"], "the loss falls in bf16"


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_with_accumulation_resumes_bit_exactly(tiny_config, tmp_path, precision):
    """Stopped after its first epoch's checkpoint, then resumed: weights, optimizer state and
    (fp16) the gradient scaler, which backed off from overflowing steps, end bit for bit as in an
    uninterrupted run."""
    cfg = load_config(
        tiny_config,
        [
            f"stages.1.precision={precision}",
            "stages.1.epochs=3",
            "stages.1.accumulate=2",
            "deterministic=True",
        ],
    )
    cfg["stages"] = cfg["stages"][1:2]

    def last(work):
        return checkpoint.load(work / "checkpoints" / "last.pt")

    Runner(cfg, tmp_path / "whole", hooks=[StopAtEpoch(2)]).run()
    Runner(cfg, tmp_path / "stopped", hooks=[StopAtEpoch(1)]).run()
    if precision == "fp16":
        saved = last(tmp_path / "stopped")["progress"]["scaler"]
        fresh = torch.amp.GradScaler("cpu").state_dict()
        assert (saved["scale"], saved["_growth_tracker"]) != (fresh["scale"], fresh["_growth_tracker"])
    Runner(cfg, tmp_path / "stopped", resume=True, hooks=[StopAtEpoch(2)]).run()
    whole = last(tmp_path / "whole")["progress"]
    resumed = last(tmp_path / "stopped")["progress"]
    assert whole["epoch"] == resumed["epoch"] == 2
    assert_same_tensors(whole["method"], resumed["method"], "method.")
    assert_same_tensors(whole["optimizer"]["state"], resumed["optimizer"]["state"], "optimizer.")
    assert whole["optimizer"]["param_groups"] == resumed["optimizer"]["param_groups"]
    assert whole["scaler"] == resumed["scaler"]


class StopAtEpoch:
    """Stops a run when epoch ``epoch`` starts (after the previous epoch's checkpoint)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    @hookimpl
    def vidssl_epoch_start(self, epoch):
        if epoch == self.epoch:
            raise vidssl.StopRun(f"stopped at epoch {epoch}")


def _sync_bn_worker(rank: int) -> dict:
    torch.manual_seed(0)
    x = torch.randn(8, 4, 3, 5, 5)  # the global batch, the same on both ranks
    weights = torch.randn(8, 4, 3, 5, 5)
    model = convert_sync_batchnorm(nn.Sequential(nn.BatchNorm3d(4)), torch.device("cpu"))
    local = x[4 * rank : 4 * (rank + 1)].clone().requires_grad_(True)
    y = model(local)
    (y * weights[4 * rank : 4 * (rank + 1)]).sum().backward()
    bn = model[0]
    return {
        "type": type(bn).__name__,
        "y": y.detach(),
        "x_grad": local.grad,
        "w_grad": bn.weight.grad,
        "b_grad": bn.bias.grad,
        "mean": bn.running_mean,
        "var": bn.running_var,
    }


@pytest.mark.slow
def test_sync_bn_in_two_processes_equals_batchnorm_on_the_whole_batch():
    ranks = in_two_processes(_sync_bn_worker)
    torch.manual_seed(0)
    x = torch.randn(8, 4, 3, 5, 5).requires_grad_(True)
    weights = torch.randn(8, 4, 3, 5, 5)
    bn = nn.BatchNorm3d(4)
    y = bn(x)
    (y * weights).sum().backward()
    assert ranks[0]["type"] == "SyncBatchNorm"
    assert torch.allclose(torch.cat([r["y"] for r in ranks]), y, atol=1e-5)
    assert torch.allclose(torch.cat([r["x_grad"] for r in ranks]), x.grad, atol=1e-5)
    assert torch.allclose(ranks[0]["w_grad"] + ranks[1]["w_grad"], bn.weight.grad, atol=1e-4)
    assert torch.allclose(ranks[0]["b_grad"] + ranks[1]["b_grad"], bn.bias.grad, atol=1e-4)
    for r in ranks:
        assert torch.allclose(r["mean"], bn.running_mean, atol=1e-6)
        assert torch.allclose(r["var"], bn.running_var, atol=1e-6)


def test_sync_bn_is_plain_batchnorm_in_one_process():
    model = nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4))
    assert convert_sync_batchnorm(model, torch.device("cpu")) is model
    assert type(model[1]) is nn.BatchNorm3d
    assert issubclass(SyncBatchNorm, nn.modules.batchnorm._BatchNorm)


def _shuffle_worker(rank: int) -> dict:
    torch.manual_seed(rank)
    rows = torch.arange(8.0).reshape(8, 1) + 100 * rank  # rank r's rows: r00..r07
    shuffled, permutation = distributed.shuffle_batch(rows)
    back = distributed.unshuffle_batch(shuffled * 2, permutation)
    # a VTDL step with ShuffleBN on its key encoder
    backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.125, stem_pool="1x3x3"))
    method = vidssl.build(
        "method", dict(type="vtdl", queue_size=16, shuffle_bn=True, tca=False), backbone=backbone
    )
    views = {k: torch.randn(2, 3, 4, 16, 16) for k in ("query", "key", "negative")}
    loss = method({"views": views})["loss"]
    return {"shuffled": shuffled.flatten().tolist(), "back": back.flatten().tolist(), "loss": float(loss)}


@pytest.mark.slow
def test_shuffle_bn_spreads_the_global_batch_over_ranks_and_restores_it():
    ranks = in_two_processes(_shuffle_worker)
    everything = sorted(ranks[0]["shuffled"] + ranks[1]["shuffled"])
    assert everything == [float(v) for v in [*range(8), *range(100, 108)]], "a permutation"
    assert any(v >= 100 for v in ranks[0]["shuffled"]), "rank 0 encodes rows of rank 1"
    for rank in (0, 1):
        assert ranks[rank]["back"] == [2.0 * (v + 100 * rank) for v in range(8)]
        assert torch.isfinite(torch.tensor(ranks[rank]["loss"]))


def test_shuffle_bn_is_the_identity_in_one_process():
    rows = torch.randn(4, 3)
    shuffled, permutation = distributed.shuffle_batch(rows)
    assert shuffled is rows and permutation is None
    assert distributed.unshuffle_batch(rows, None) is rows


def test_a_run_started_before_a_key_existed_resumes_with_its_old_behaviour(tiny_config, tmp_path, capfd):
    """config.json written before ``conv3d`` and ``keep_freed_memory`` existed (removed here
    from a real run's): ``--resume`` continues with their behaviour then (``conv3d='torch'``,
    memory not kept), says so, and refuses nothing; it was refused as a changed key before."""
    cfg = load_config(tiny_config, ["stages.1.epochs=2"])
    cfg["stages"] = cfg["stages"][1:2]
    work = tmp_path / "old"
    Runner(cfg, work, hooks=[StopAtEpoch(1)]).run()
    saved = json.loads((work / "config.json").read_text())
    del saved["keep_freed_memory"]
    for stage in saved["_stages"]:
        del stage["conv3d"]
    (work / "config.json").write_text(json.dumps(saved))
    results = Runner(
        load_config(tiny_config, ["stages.1.epochs=2"]) | {"stages": cfg["stages"]}, work, resume=True
    ).run()
    assert "supervised" in results
    assert (
        "this run started before vidssl had keep_freed_memory (continues as False), "
        "stages[0].conv3d (continues as 'torch')" in capfd.readouterr().err
    )
    resumed = json.loads((work / "config.json").read_text())
    assert resumed["_stages"][0]["conv3d"] == "torch" and resumed["keep_freed_memory"] is False


def test_the_switches_are_undone_when_the_training_stage_ends(tiny_config, tmp_path):
    """After a training stage the backbone is as it was: plain classes, its 5-D weights in
    their own layout, not compiled; it pickles and saves whole."""
    from types import SimpleNamespace

    from vidssl._engine.training import switch_backbones

    cfg = load_config(tiny_config, ["stages.1.epochs=1", "stages.1.precision=bf16"])
    cfg["stages"] = cfg["stages"][1:2]
    runner = Runner(cfg, tmp_path / "run")
    runner.run()
    backbone = runner.backbone
    assert all(type(m).__module__.startswith(("torch.", "vidssl_backbones.")) for m in backbone.modules())
    assert all(p.is_contiguous() for p in backbone.parameters())
    torch.save(backbone, tmp_path / "whole.pt")
    assert type(torch.load(tmp_path / "whole.pt", weights_only=False)) is type(backbone)
    # compile too (its wrapper is made at once, compiled only at the first call)
    method = vidssl.build("method", {"type": "supervised", "num_classes": 10}, backbone=backbone)
    stage = SimpleNamespace(
        name="s",
        method=method,
        dataset=None,
        cfg={
            "precision": "fp32",
            "memory_format": "channels_last_3d",
            "compile": True,
            "batch_size": 2,
            "accumulate": 1,
            "global_batch": None,
        },
    )
    restore = switch_backbones(SimpleNamespace(device=torch.device("cpu")), stage)
    assert backbone._compiled_call_impl is not None
    assert not next(p for p in backbone.parameters() if p.dim() == 5).is_contiguous()
    restore()
    assert backbone._compiled_call_impl is None
    assert all(p.is_contiguous() for p in backbone.parameters())


@pytest.mark.slow
def test_repeat_trains_on_videos_times_clips_resumes_exactly_and_is_refused_where_it_cannot_hold(
    tiny_config, tmp_path, capfd
):
    """A supervised stage on ``repeat=2``: batches of 4 videos × 2 clips (printed), stopped after
    its first epoch and resumed it ends bit for bit as an uninterrupted run; a memory-bank method
    and an evaluation dataset refuse it."""
    cfg = load_config(tiny_config, ["stages.1.dataset.repeat=2", "stages.1.epochs=2", "deterministic=True"])
    cfg["stages"] = cfg["stages"][1:2]
    Runner(cfg, tmp_path / "whole").run()
    assert "4 videos per step × 2 clips each = 8 clips per step" in capfd.readouterr().err
    Runner(cfg, tmp_path / "stopped", hooks=[StopAtEpoch(1)]).run()
    Runner(cfg, tmp_path / "stopped", resume=True).run()
    whole, resumed = (
        checkpoint.load(tmp_path / w / "checkpoints" / "stage_supervised.pt") for w in ("whole", "stopped")
    )
    assert_same_tensors(whole["method"], resumed["method"], "method.")
    assert whole["metrics"] == resumed["metrics"]
    stage = {k: v for k, v in cfg["stages"][0].items() if k != "val_dataset"}
    bank = {**cfg, "stages": [{**stage, "method": {"type": "instance_recognition"}}]}
    with pytest.raises(ConfigError, match=r"repeats each video 2 times per item"):
        Runner(bank, tmp_path / "bank").run()
    evaluated = load_config(tiny_config, ["stages.1.val_dataset.repeat=2"])
    evaluated["stages"] = evaluated["stages"][1:2]
    with pytest.raises(
        ConfigError,
        match=r"stages\[0\]\.val_dataset: its items hold 2 "
        r"augmented clips each",
    ):
        Runner(evaluated, tmp_path / "evaluated").run()
