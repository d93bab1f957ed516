"""vidssl-cam: a real head training on the tiny synthetic data, overlays for a synthetic and the
real KTH video."""

from __future__ import annotations

import re

import cv2
import pytest
import torch

import vidssl
from conftest import SHARED, run_cli
from vidssl_datasets import synthetic_motion as sm
from vidssl_methods.cam import CHANCE, reverse


def test_reversing_a_residual_clip_gives_the_residual_of_the_reversed_frames():
    frames = torch.randn(2, 3, 6, 4, 4)
    residual = frames[:, :, 1:] - frames[:, :, :-1]
    backwards = frames.flip(2)
    assert torch.allclose(reverse(residual, True), backwards[:, :, 1:] - backwards[:, :, :-1])
    assert torch.equal(reverse(frames, False), backwards)


@pytest.mark.parametrize("residual", [False, True])
def test_cam_writes_overlays_for_synthetic_and_real_video(tiny_config, data_root, tmp_path, residual):
    if residual:  # a config whose datasets read frame differences: the tool follows it
        text = tiny_config.read_text()
        tiny_config.write_text(text.replace("crop='center')", "crop='center', residual=True)"))
    generated = sm.generate(
        data_root, sm.SyntheticMotionConfig(size=16, frames=12, train_per_class=4, test_per_class=2)
    )
    backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.125, stem_pool="1x3x3"))
    ckpt = tmp_path / "backbone.pt"
    torch.save({"backbone": backbone.state_dict()}, ckpt)
    video = next((generated / "videos").rglob("*.avi"))
    out = tmp_path / "cam"
    result = run_cli(
        "vidssl-cam",
        str(tiny_config),
        "--checkpoint",
        str(ckpt),
        "--video",
        str(video),
        "--out",
        str(out),
        "--epochs",
        "2",
        "--clip-len",
        "8",
        "--size",
        "16",
        "--batch-size",
        "8",
        check=True,
    )
    accuracy = float(re.findall(r"normal-vs-reversed accuracy ([\d.]+)%", result.stderr)[-1])
    warned = "warning: the head tells normal from reversed clips only" in result.stderr
    assert warned == (accuracy <= CHANCE), "a head at chance is called so, and only then"
    assert (out / "cam_head.pt").is_file()
    for name in ("normal_00.png", "reversed_07.png"):
        assert cv2.imread(str(out / name)).shape == (16, 16, 3), name
    sheet = cv2.imread(str(out / "contact_sheet.png"))  # labelled figure with a colour scale
    assert sheet.shape[1] > sheet.shape[0] > 200
    kth = SHARED / "fixtures/idt/person01_boxing_d1_uncomp.avi"
    if kth.is_file():  # a real video, with the head just trained
        run_cli(
            "vidssl-cam",
            str(tiny_config),
            "--checkpoint",
            str(ckpt),
            "--video",
            str(kth),
            "--out",
            str(tmp_path / "kth"),
            "--head",
            str(out / "cam_head.pt"),
            "--clip-len",
            "8",
            "--size",
            "48",
            check=True,
        )
        assert cv2.imread(str(tmp_path / "kth" / "normal_07.png")).shape == (48, 48, 3)
        assert cv2.imread(str(tmp_path / "kth" / "contact_sheet.png")) is not None
    bad = run_cli(
        "vidssl-cam",
        str(tiny_config),
        "--checkpoint",
        str(tmp_path / "none.pt"),
        "--video",
        str(video),
        "--out",
        str(out),
    )
    assert bad.returncode == 1 and "none.pt" in bad.stderr
