"""Key names and shapes of the seed repositories' backbones, written from their sources (not
derived from vidssl's modules): each function returns {key: shape} of one published state dict."""

from __future__ import annotations


def bn(prefix: str, c: int) -> dict:
    return {
        f"{prefix}.weight": (c,),
        f"{prefix}.bias": (c,),
        f"{prefix}.running_mean": (c,),
        f"{prefix}.running_var": (c,),
        f"{prefix}.num_batches_tracked": (),
    }


def kenshohara_r3d18(classes: int = 400) -> dict:
    """3D-ResNets-PyTorch ``resnet.py`` (seed 000), also VTDL's and MLFO's ``r3d.py``."""
    keys = {"conv1.weight": (64, 3, 7, 7, 7), **bn("bn1", 64)}
    inp = 64
    for layer, planes in enumerate((64, 128, 256, 512), 1):
        for block in range(2):
            p = f"layer{layer}.{block}"
            keys |= {
                f"{p}.conv1.weight": (planes, inp, 3, 3, 3),
                **bn(f"{p}.bn1", planes),
                f"{p}.conv2.weight": (planes, planes, 3, 3, 3),
                **bn(f"{p}.bn2", planes),
            }
            if block == 0 and layer > 1:
                keys |= {
                    f"{p}.downsample.0.weight": (planes, inp, 1, 1, 1),
                    **bn(f"{p}.downsample.1", planes),
                }
            inp = planes
    return keys | {"fc.weight": (classes, 512), "fc.bias": (classes,)}


def mlfo_r3d18() -> dict:
    """MLFO's ``r3d.py``: the same ResNet plus the motion-excitation blocks ``melow``/``memid``."""
    keys = kenshohara_r3d18()
    for name, c in (("melow", 128), ("memid", 256)):
        r = c // 16
        keys |= {
            f"{name}.0.conv1.weight": (r, c, 1, 1),
            **bn(f"{name}.0.bn1", r),
            f"{name}.0.conv2.weight": (r, 1, 3, 3),
            f"{name}.0.conv3.weight": (c, r, 1, 1),
            **bn(f"{name}.0.bn3", c),
        }
    return keys


def vmz_r2plus1d18(classes: int = 400) -> dict:
    """Seed 001 ``models/r2plus1d.py``: ``block`` ModuleDicts with ``conv1_middle`` etc."""
    keys = {
        "conv1_middle.weight": (45, 3, 1, 7, 7),
        **bn("bn1_middle", 45),
        "conv1.weight": (64, 45, 3, 1, 1),
        **bn("bn1", 64),
    }
    inp = 64
    for layer, out in enumerate((64, 128, 256, 512), 1):
        for block in range(2):
            p = f"layer{layer}.{block}.block"
            for i, cin in ((1, inp), (2, out)):
                mid = (3 * cin * out * 9) // (cin * 9 + 3 * out)
                keys |= {
                    f"{p}.conv{i}_middle.weight": (mid, cin, 1, 3, 3),
                    **bn(f"{p}.bn{i}_middle", mid),
                    f"{p}.conv{i}.weight": (out, mid, 3, 1, 1),
                    **bn(f"{p}.bn{i}", out),
                }
            if inp != out or (layer > 1 and block == 0):
                keys |= {f"{p}.shortcut.weight": (out, inp, 1, 1, 1), **bn(f"{p}.shortcut_bn", out)}
            inp = out
    return keys | {"fc.weight": (classes, 512), "fc.bias": (classes,)}


def _st_conv(prefix: str, cin: int, cout: int, kt: int, k: int) -> dict:
    mid = (kt * k * k * cin * cout) // (k * k * cin + kt * cout)
    return {
        f"{prefix}.spatial_conv.weight": (mid, cin, 1, k, k),
        **bn(f"{prefix}.bn", mid),
        f"{prefix}.temporal_conv.weight": (cout, mid, kt, 1, 1),
    }


def irhum_r2plus1d10() -> dict:
    """VTDL's ``model/r2p1d.py`` in pre-training mode (layer sizes 1,1,1,1, with SSL heads)."""
    keys = {**_st_conv("conv1", 3, 64, 3, 7), **bn("bn1", 64)}
    inp = 64
    for layer, out in zip(range(2, 6), (64, 128, 256, 512), strict=True):
        p = f"conv{layer}.block1"
        keys |= {
            **_st_conv(f"{p}.conv1", inp, out, 3, 3),
            **bn(f"{p}.bn1", out),
            **_st_conv(f"{p}.conv2", out, out, 3, 3),
            **bn(f"{p}.bn2", out),
        }
        if layer > 2:
            keys |= {**_st_conv(f"{p}.downsampleconv", inp, out, 1, 1), **bn(f"{p}.downsamplebn", out)}
        inp = out
    return keys | {
        "id_head.2.weight": (128, 512),
        "id_head.2.bias": (128,),
        "cls_head.2.weight": (200, 512),
        "cls_head.2.bias": (200,),
    }


def i3d_nl_resnet50(classes: int = 400) -> dict:
    """Seed 001 ``models/i3d_nl.py`` (no non-local blocks)."""
    keys = {"conv1.weight": (64, 3, 5, 7, 7), **bn("bn1", 64)}
    temporal = [[1, 1, 1], [1, 0, 1, 0], [1, 0, 1, 0, 1, 0], [0, 1, 0]]
    inp = 64
    for layer, flags in enumerate(temporal, 1):
        inner, out = 64 * 2 ** (layer - 1), 256 * 2 ** (layer - 1)
        for block, flag in enumerate(flags):
            p = f"layer{layer}.{block}"
            keys |= {
                f"{p}.conv1.weight": (inner, inp, 1 + 2 * flag, 1, 1),
                **bn(f"{p}.bn1", inner),
                f"{p}.conv2.weight": (inner, inner, 1, 3, 3),
                **bn(f"{p}.bn2", inner),
                f"{p}.conv3.weight": (out, inner, 1, 1, 1),
                **bn(f"{p}.bn3", out),
            }
            if block == 0:
                keys |= {f"{p}.conv_sc.weight": (out, inp, 1, 1, 1), **bn(f"{p}.bn_sc", out)}
            inp = out
    return keys | {"fc.weight": (classes, 2048), "fc.bias": (classes,)}


def _unit(prefix: str, cin: int, cout: int, k: int) -> dict:
    return {f"{prefix}.conv3d.weight": (cout, cin, k, k, k), **bn(f"{prefix}.batch3d", cout)}


def vtdl_i3d() -> dict:
    """VTDL's ``model/i3d.py`` in pre-training mode (``id_head``, ``cls_head``)."""
    keys = {
        **_unit("conv3d_1a_7x7", 3, 64, 7),
        **_unit("conv3d_2b_1x1", 64, 64, 1),
        **_unit("conv3d_2c_3x3", 64, 192, 3),
    }
    mixed = [
        ("3b", 192, [64, 96, 128, 16, 32, 32]),
        ("3c", 256, [128, 128, 192, 32, 96, 64]),
        ("4b", 480, [192, 96, 208, 16, 48, 64]),
        ("4c", 512, [160, 112, 224, 24, 64, 64]),
        ("4d", 512, [128, 128, 256, 24, 64, 64]),
        ("4e", 512, [112, 144, 288, 32, 64, 64]),
        ("4f", 528, [256, 160, 320, 32, 128, 128]),
        ("5b", 832, [256, 160, 320, 32, 128, 128]),
        ("5c", 832, [384, 192, 384, 48, 128, 128]),
    ]
    for name, cin, c in mixed:
        p = f"mixed_{name}"
        keys |= {
            **_unit(f"{p}.branch_0", cin, c[0], 1),
            **_unit(f"{p}.branch_1.0", cin, c[1], 1),
            **_unit(f"{p}.branch_1.1", c[1], c[2], 3),
            **_unit(f"{p}.branch_2.0", cin, c[3], 1),
            **_unit(f"{p}.branch_2.1", c[3], c[4], 3),
            **_unit(f"{p}.branch_3.1", cin, c[5], 1),
        }
    return keys | {
        "id_head.2.weight": (128, 1024),
        "id_head.2.bias": (128,),
        "cls_head.2.weight": (200, 1024),
        "cls_head.2.bias": (200,),
    }


def vtdl_c3d(classes: int = 101) -> dict:
    """VTDL's ``model/c3d.py`` with its classifier."""
    keys, cin = {}, 3
    for name, cout in (
        ("1", 64),
        ("2", 128),
        ("3a", 256),
        ("3b", 256),
        ("4a", 512),
        ("4b", 512),
        ("5a", 512),
        ("5b", 512),
    ):
        keys |= {
            f"conv{name}.weight": (cout, cin, 3, 3, 3),
            f"conv{name}.bias": (cout,),
            **bn(f"bn{name}", cout),
        }
        cin = cout
    return keys | {"linear.weight": (classes, 512), "linear.bias": (classes,)}
