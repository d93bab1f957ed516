"""Backbones: exact parameter counts of the seeds' models, the forward contract, torchvision
equivalence, and strict loading of the seed repositories' checkpoint layouts."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision

import seed_layouts as seeds
import vidssl
from conftest import run_cli
from vidssl import Backbone, CheckpointError, check, export_weights, load_weights

PARAMS = [
    ({"type": "r3d", "depth": 18, "shortcut": "B"}, 33_203_904),
    ({"type": "r3d", "depth": 18, "shortcut": "A"}, 33_030_080),
    ({"type": "r3d", "depth": 34}, 63_513_536),
    ({"type": "r2plus1d", "depth": 18}, 33_165_639),
    ({"type": "r2plus1d", "depth": 34}, 63_491_975),
    ({"type": "r2plus1d", "depth": 10, "variant": "irhum"}, 14_365_303),
    ({"type": "r2plus1d", "depth": 18, "variant": "irhum"}, 33_178_423),
    ({"type": "i3d_resnet"}, 27_223_872),
    ({"type": "i3d"}, 12_287_264),
    ({"type": "c3d"}, 27_661_440),
]


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("cfg,expected", PARAMS, ids=lambda v: str(v))
def test_parameter_counts_equal_the_seeds(cfg, expected):
    assert count(vidssl.build("backbone", cfg)) == expected


SMALL = {"r3d": {"width": 0.25}, "r2plus1d": {"width": 0.25}}


@pytest.mark.parametrize("name", sorted(vidssl.components("backbone")))
def test_forward_contract_for_every_backbone(name):
    model = vidssl.build("backbone", {"type": name, **SMALL.get(name, {})}).eval()
    for shape in ((8, 32, 32), (16, 48, 40)):  # pooling adapts to any T, H, W
        clip = torch.randn(2, 3, *shape)
        with torch.no_grad():
            features = model(clip)
            maps = model.forward_features(clip)
        assert features.shape == (2, model.feat_dim)
        assert len(maps) >= 3 and all(m.dim() == 5 and m.shape[0] == 2 for m in maps.values())
        high = list(maps.values())[-1]
        assert torch.allclose(high.mean((2, 3, 4)), features, atol=1e-5), (
            "forward = global average of the last stage map"
        )
        # feature_info describes the maps without running the model
        info = model.feature_info
        assert [(f.name, f.channels) for f in info] == [(k, m.shape[1]) for k, m in maps.items()]
        for f, m in zip(info, maps.values(), strict=True):
            for size, out, stride in zip(shape, m.shape[2:], f.stride, strict=True):
                assert size // stride <= out <= max(1, -(-size // stride)), (f, tuple(m.shape))
    check(model, Backbone, name)


@pytest.mark.parametrize(
    "ours,theirs",
    [("r3d", torchvision.models.video.r3d_18), ("r2plus1d", torchvision.models.video.r2plus1d_18)],
)
def test_torchvision_state_dicts_load_with_identical_outputs(ours, theirs):
    torch.manual_seed(0)
    reference = theirs().eval()
    model = vidssl.build("backbone", {"type": ours, "depth": 18, "variant": "torchvision"}).eval()
    assert load_weights(model, reference.state_dict(), "torchvision") == ["fc.weight", "fc.bias"]
    reference.fc = torch.nn.Identity()
    clip = torch.randn(2, 3, 8, 56, 56)
    with torch.no_grad():
        assert torch.equal(model(clip), reference(clip))


@pytest.mark.parametrize(
    "ours,theirs",
    [("r3d", torchvision.models.video.r3d_18), ("r2plus1d", torchvision.models.video.r2plus1d_18)],
)
def test_weights_export_to_torchvision(ours, theirs):
    """Export is the same weight-format component run backwards: a vidssl backbone's weights
    written in torchvision's layout load into torchvision's model (all but its head) and give
    the same features."""
    torch.manual_seed(1)
    model = vidssl.build("backbone", {"type": ours, "depth": 18, "variant": "torchvision"}).eval()
    reference = theirs().eval()
    missing, unexpected = reference.load_state_dict(export_weights(model, "torchvision"), strict=False)
    assert missing == ["fc.weight", "fc.bias"] and unexpected == []
    reference.fc = torch.nn.Identity()
    clip = torch.randn(2, 3, 8, 56, 56)
    with torch.no_grad():
        assert torch.equal(model(clip), reference(clip))


def test_weights_export_to_a_seed_layout_and_back():
    model = vidssl.build("backbone", {"type": "r3d", "depth": 18})
    exported = export_weights(model, "kenshohara")
    assert set(exported) == {k for k in seeds.kenshohara_r3d18() if not k.startswith("fc.")}
    again = vidssl.build("backbone", {"type": "r3d", "depth": 18})
    load_weights(again, exported, "kenshohara")
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())
    with pytest.raises(CheckpointError, match="weight format 'vmz' is read only"):
        export_weights(vidssl.build("backbone", {"type": "r2plus1d", "depth": 10}), "vmz")


def random_state(layout: dict, prefix: str = "") -> dict:
    generator = torch.Generator().manual_seed(0)
    return {
        prefix + k: (
            torch.randint(0, 5, (), dtype=torch.long)
            if not shape
            else torch.randn(shape, generator=generator)
        )
        for k, shape in layout.items()
    }


SEEDS = [
    (
        "kenshohara",
        seeds.kenshohara_r3d18,
        {"type": "r3d", "depth": 18},
        lambda s: {"state_dict": s, "epoch": 40, "arch": "resnet-18"},
        "module.",
        ("layer2.0.downsample.0.weight", "layer2.0.downsample.conv.weight"),
    ),
    (
        "kenshohara",
        seeds.kenshohara_r3d18,
        {"type": "r3d", "depth": 18},
        lambda s: {"model_state_dict": s, "epoch": 40},
        "module.",
        ("conv1.weight", "stem.0.weight"),
    ),
    (
        "kenshohara",
        seeds.mlfo_r3d18,
        {"type": "r3d", "depth": 18, "stem_pool": "1x3x3"},
        lambda s: s,
        "",
        ("bn1.running_var", "stem.1.running_var"),
    ),
    (
        "vmz",
        seeds.vmz_r2plus1d18,
        {"type": "r2plus1d", "depth": 18},
        lambda s: {"state_dict": s},
        "module.",
        ("layer2.0.block.conv2_middle.weight", "layer2.0.conv2.0.weight"),
    ),
    (
        "irhum",
        seeds.irhum_r2plus1d10,
        {"type": "r2plus1d", "depth": 10, "variant": "irhum"},
        lambda s: {"model": s},
        "module.",
        ("conv3.block1.downsampleconv.temporal_conv.weight", "layer2.0.downsample.conv.3.weight"),
    ),
    (
        "i3d_nl",
        seeds.i3d_nl_resnet50,
        {"type": "i3d_resnet"},
        lambda s: {"state_dict": s},
        "module.",
        ("layer3.0.conv_sc.weight", "layer3.0.downsample.conv.weight"),
    ),
    (
        "vtdl_i3d",
        seeds.vtdl_i3d,
        {"type": "i3d"},
        lambda s: {"model": s},
        "module.",
        ("mixed_4f.branch_2.1.conv3d.weight", "mixed_4f.branch_2.1.conv3d.weight"),
    ),
    ("c3d", seeds.vtdl_c3d, {"type": "c3d"}, lambda s: s, "", ("conv3b.bias", "conv3b.bias")),
]


@pytest.mark.parametrize(
    "fmt,layout,cfg,wrap,prefix,probe", SEEDS, ids=[s[0] + ":" + s[1].__name__ for s in SEEDS]
)
def test_seed_checkpoint_layouts_load_strictly(tmp_path, fmt, layout, cfg, wrap, prefix, probe):
    state = random_state(layout(), prefix)
    path = tmp_path / "seed.pth"
    torch.save(wrap(state), path)
    model = vidssl.build("backbone", cfg)
    load_weights(model, path, fmt)
    seed_key, our_key = probe
    assert torch.equal(model.state_dict()[our_key], state[prefix + seed_key])
    loaded = sum(
        1
        for k in layout()
        if not k.startswith(("fc.", "linear.", "id_head.", "cls_head.", "melow.", "memid."))
    )
    assert loaded == len(model.state_dict()), "every backbone tensor comes from the checkpoint"


def test_mismatched_checkpoint_is_refused_with_the_keys_named(tmp_path):
    layout = seeds.kenshohara_r3d18()
    del layout["layer4.1.bn2.running_var"]
    layout["layer4.1.extra.weight"] = (3,)
    path = tmp_path / "bad.pth"
    torch.save({"state_dict": random_state(layout)}, path)
    with pytest.raises(CheckpointError) as info:
        load_weights(vidssl.build("backbone", {"type": "r3d"}), path, "kenshohara")
    message = str(info.value)
    assert "missing (1): layer4.1.bn2.running_var" in message
    assert "unexpected (1): layer4.1.extra.weight" in message
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_weights(
            vidssl.build("backbone", {"type": "r3d", "depth": 18, "width": 0.5}),
            random_state(seeds.kenshohara_r3d18()),
            "kenshohara",
        )


def test_non_local_blocks_sit_where_video_nonlocal_net_puts_them():
    model = vidssl.build("backbone", {"type": "i3d_resnet", "non_local": True})
    placed = sorted(
        name.rsplit(".", 1)[0] for name, m in model.named_modules() if type(m).__name__ == "NonLocal"
    )
    assert placed == ["layer2.1", "layer2.3", "layer3.1", "layer3.3", "layer3.5"]
    # zero-initialised output BN: a fresh NL-I3D computes exactly what I3D-ResNet computes
    plain = vidssl.build("backbone", {"type": "i3d_resnet"})
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if "nonlocal" not in k})
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.eval()(clip), plain.eval()(clip), atol=1e-6)


def test_describe_prints_params_flops_and_stages():
    out = run_cli("vidssl-plugins", "--describe", "backbone", "r3d", "--set", "depth=18", check=True).stdout
    assert "parameters: 33,203,904" in out and "GFLOPs" in out and "features: 512" in out
    assert "layer4       (1, 512, 1, 4, 4)" in out


def test_seed000_init_is_kaiming_fan_in_and_xavier_heads():
    """Seed 000's pre-training code: Kaiming normal with fan_in for convolutions; its 512→128
    head Xavier uniform with zero bias (IR and LA heads start so)."""
    torch.manual_seed(0)
    for init, fan in (("seed000", "in"), ("fan_out", "out")):
        conv = vidssl.build("backbone", dict(type="r3d", depth=18, init=init)).layer3[0].conv1
        out_channels, in_channels, *kernel = conv.weight.shape  # 256, 128, 3, 3, 3
        fans = {"in": in_channels * math.prod(kernel), "out": out_channels * math.prod(kernel)}
        expected = math.sqrt(2 / fans[fan])
        assert abs(float(conv.weight.detach().std()) / expected - 1) < 0.02, (init, fan)
    backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.125))
    head = vidssl.build("method", dict(type="instance_recognition"), backbone=backbone).head.fc
    head.requires_grad_(False)
    bound = math.sqrt(6 / (head.in_features + head.out_features))
    assert float(head.bias.abs().max()) == 0 and float(head.weight.abs().max()) <= bound
    assert float(head.weight.abs().max()) > 0.9 * bound
