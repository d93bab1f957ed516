"""A clip transform and a temporal sampler from a separately installed plugin (a real
``*.dist-info`` with an entry point), named in a dataset view: no edit of the datasets plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

from conftest import make_distribution
from vidssl_datasets.synthetic_motion import write_video

PLUGIN = """
    import numpy as np
    from vidssl import hookimpl

    class Negate:
        '''Clip transform: the clip times -1.'''
        def __call__(self, clip, rng):
            return -clip

    class FromFrame:
        '''Sampler: every clip starts at frame ``first``.'''
        def __init__(self, first: int = 0):
            self.first = first

        def starts(self, n, span, num_clips, rng):
            return [self.first] * num_clips

    @hookimpl
    def vidssl_register_transforms(register):
        register("negate", Negate)
        register("from_frame", FromFrame)
"""

SCRIPT = """
    import sys, torch, vidssl
    from vidssl._config.loading import DEFAULTS, validate_config
    from vidssl import ConfigError
    from vidssl import get_plugins

    video = sys.argv[1]
    def clip(**view):
        dataset = vidssl.build("dataset", {"type": "video_files", "paths": [video],
                                           "view": dict(clip_len=4, size=16, **view)},
                               views={"clip": {}})
        return dataset[0]["views"]["clip"]

    custom = clip(sampler=dict(type="from_frame", first=3), transforms=[dict(type="negate")])
    # the uniform sampler's 4 clips of a 12-frame video start at frames 0, 3, 5 and 8
    uniform = clip(sampler="uniform", num_clips=4)
    assert torch.equal(custom, -uniform[1]), "sampler and transform both applied"
    assert not torch.equal(custom, -uniform[0])
    view = {"sampler": {"type": "from_frame", "frist": 1}}
    stage = dict(name="x", type="evaluate", evaluator={"type": "classification"},
                 val_dataset={"type": "video_files", "paths": [video], "view": view})
    try:   # a config naming them is validated against their schemas
        validate_config({**DEFAULTS, "backbone": {"type": "r3d"}, "stages": [stage]},
                        get_plugins().registry)
    except ConfigError as exc:
        print("config error:", exc)
"""


def test_out_of_tree_transform_and_sampler_in_a_view(tmp_path):
    video = tmp_path / "v.avi"
    write_video(video, (np.random.default_rng(0).random((12, 24, 24, 3)) * 255).astype(np.uint8))
    (tmp_path / "site").mkdir()
    env = make_distribution(tmp_path / "site", "clip-tricks", "0.2", "clip_tricks", PLUGIN)
    script = tmp_path / "check.py"
    script.write_text(textwrap.dedent(SCRIPT))
    result = subprocess.run(
        [sys.executable, str(script), str(video)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "config error: stages[0].val_dataset.view.sampler.frist: unknown key 'frist'; did "
        "you mean 'first'?" in result.stdout
    ), result.stdout
