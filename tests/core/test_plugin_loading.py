"""Plugin discovery through real distributions: listing, duplicates, import failures, disabling,
misspelled hooks. Each extra distribution is a real ``*.dist-info`` with an entry point, put on
PYTHONPATH of a real ``vidssl-plugins`` process."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import vidssl
from conftest import make_distribution, run_cli


def test_components_name_their_distribution_and_version():
    assert vidssl.components("backbone")["r3d"] == ("vidssl-backbones", "0.1.0")
    assert vidssl.components("dataset")["synthetic_motion"][0] == "vidssl-datasets"
    listing = run_cli("vidssl-plugins", check=True).stdout
    for kind, name in (
        ("backbone", "r3d"),
        ("method", "supervised"),
        ("dataset", "synthetic_motion"),
        ("weight_format", "torchvision"),
    ):
        assert re.search(rf"^{kind}\s+{name}\s", listing, re.M), (kind, name)
    assert "vidssl-methods" in listing and "vidssl_register_methods" in listing


def test_build_returns_bare_backbone():
    backbone = vidssl.build("backbone", {"type": "r3d", "depth": 10, "width": 0.125})
    assert type(backbone).__name__ == "ResNet3D" and backbone.feat_dim == 64
    assert not hasattr(backbone, "fc")


def test_duplicate_component_names_both_distributions(tmp_path):
    env = make_distribution(
        tmp_path,
        "dup-plugin",
        "0.3",
        "dup_plugin",
        """
        from vidssl import hookimpl
        @hookimpl
        def vidssl_register_backbones(register):
            register("r3d", lambda: None)
    """,
    )
    result = run_cli("vidssl-plugins", env=env)
    assert result.returncode == 2
    assert "backbone 'r3d' is registered twice" in result.stderr
    assert "vidssl-backbones 0.1.0" in result.stderr and "dup-plugin 0.3" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_plugin_names_distribution_and_exception_and_can_be_disabled(tmp_path):
    """A plugin that fails to import is reported and left out of the command: the others work,
    and an unknown-component error names it; vidssl-plugins lists it and exits 2."""
    env = make_distribution(
        tmp_path, "broken-plugin", "1.2", "broken_plugin", "import no_such_module_anywhere\n"
    )
    result = run_cli("vidssl-plugins", env=env)
    assert result.returncode == 2
    why = (
        "plugin 'broken-plugin' from distribution broken-plugin 1.2 failed to import: "
        "ModuleNotFoundError: No module named 'no_such_module_anywhere'"
    )
    assert why in result.stderr and f"broken: {why}" in result.stdout
    assert "VIDSSL_DISABLE_PLUGINS=broken-plugin" in result.stderr
    assert "Traceback" not in result.stderr and "supervised" in result.stdout
    others = subprocess.run(
        [
            sys.executable,
            "-c",
            "import vidssl; print(sorted(vidssl.components('backbone'))[0]); "
            "vidssl.build('method', {'type': 'simclr'})",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert others.stdout.strip() == "c3d", "the other plugins' components are there"
    assert "unknown method 'simclr'" in others.stderr and f"; not loaded: {why})" in others.stderr
    disabled = run_cli("vidssl-plugins", env={**env, "VIDSSL_DISABLE_PLUGINS": "broken-plugin"}, check=True)
    assert "disabled: broken-plugin" in disabled.stdout


def test_disabling_a_shipped_plugin_removes_its_components():
    result = run_cli("vidssl-plugins", env={"VIDSSL_DISABLE_PLUGINS": "vidssl-methods"}, check=True)
    assert "supervised" not in result.stdout and "r3d" in result.stdout
    misspelled = run_cli("vidssl-plugins", env={"VIDSSL_DISABLE_PLUGINS": "vidssl-method"})
    assert (
        misspelled.returncode == 2
        and "VIDSSL_DISABLE_PLUGINS: no installed plugin is named "
        "'vidssl-method'; did you mean 'vidssl-methods'?"
        in misspelled.stderr
    ), misspelled.stderr


def test_misspelled_hook_implementation_is_reported(tmp_path):
    env = make_distribution(
        tmp_path,
        "typo-plugin",
        "0.1",
        "typo_plugin",
        """
        from vidssl import hookimpl
        @hookimpl
        def vidssl_register_backbone(register):
            pass
    """,
    )
    result = run_cli("vidssl-plugins", env=env)
    assert result.returncode == 2
    assert "vidssl_register_backbone" in result.stderr and "unknown hook" in result.stderr
    assert "did you mean 'vidssl_register_backbones'?" in result.stderr


def test_describing_a_backbone_that_breaks_the_contract_is_one_line(tmp_path):
    env = make_distribution(
        tmp_path,
        "flat-plugin",
        "0.1",
        "flat_plugin",
        """
        import torch
        from vidssl import hookimpl

        class Flat(torch.nn.Module):
            feat_dim = 3

            def forward(self, x):
                return x.mean((2, 3, 4))

        @hookimpl
        def vidssl_register_backbones(register):
            register("flat", Flat)
    """,
    )
    result = run_cli("vidssl-plugins", "--describe", "backbone", "flat", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-800:]
    assert len(result.stderr.strip().splitlines()) == 1 and "forward_features" in result.stderr


def test_a_backbone_stride_that_is_not_a_tuple_is_one_line(tmp_path):
    """``FeatureInfo.stride`` is a ``(t, h, w)`` tuple; a plain int was accepted silently."""
    env = make_distribution(
        tmp_path,
        "int-stride-plugin",
        "0.1",
        "int_stride_plugin",
        """
        from collections import OrderedDict
        import torch
        from vidssl import FeatureInfo, hookimpl

        class Pool(torch.nn.Module):
            feat_dim = 3
            feature_info = [FeatureInfo("input", 3, 1)]

            def forward(self, x):
                return x.mean((2, 3, 4))

            def forward_features(self, x):
                return OrderedDict(input=x)

        @hookimpl
        def vidssl_register_backbones(register):
            register("pool", Pool)
    """,
    )
    result = run_cli("vidssl-plugins", "--describe", "backbone", "pool", env=env)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "feature_info entry 'input' has stride 1; a stride is a (t, h, w) tuple" in result.stderr


def test_describe_reads_an_args_section_and_cuts_nothing(tmp_path):
    """An argument's doc comes from an ``Args:`` section of the class docstring, else the sentence
    that starts with it (not the first that mentions it), and is never cut."""
    long = "a long explanation " * 8
    env = make_distribution(
        tmp_path,
        "doc-plugin",
        "0.1",
        "doc_plugin",
        f'''
        from vidssl import Method, hookimpl

        class Documented(Method):
            """A method. ``beta`` is mentioned here first, with ``gamma``.

            ``gamma``: the third one.

            Args:
                alpha: the first
                    argument, continued.
                beta (float): {long}end.
            """

            def __init__(self, backbone, alpha: int = 1, beta: float = 0.5, gamma: int = 3):
                super().__init__(backbone)

        @hookimpl
        def vidssl_register_methods(register):
            register("documented", Documented)
    ''',
    )
    text = run_cli("vidssl-plugins", "--describe", "method", "documented", env=env, check=True).stdout
    rows = {line.split()[0]: line for line in text.splitlines()[3:]}
    assert rows["alpha"].endswith("the first argument, continued.")
    assert rows["beta"].endswith(f"{long.strip()} end.")
    assert rows["gamma"].endswith("gamma: the third one.")
    vtdl = run_cli("vidssl-plugins", "--describe", "method", "vtdl", check=True).stdout
    assert re.search(r"^min_gap\s+integer\s+2\s+least distance in frames", vtdl, re.M)
