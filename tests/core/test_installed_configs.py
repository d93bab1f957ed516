"""Configs that packages ship, by name: ``load_config(NAME)`` (and so ``vidssl-run NAME``, which
tests/test_wheels.py runs) reads the file a package registered, a user's config inherits from one
with ``_base_ = ['NAME']``, a misspelled name gets the nearest one, and a name two packages ship is
an error naming both."""

from __future__ import annotations

import pytest

from conftest import REPO, make_distribution, run_cli
from vidssl import ConfigError, get_plugins, load_config

SHIPPED = REPO / "configs" / "vtdl_r3d_synthetic.py"


def without_source(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "_source"}


def test_a_shipped_config_loads_by_name_from_its_package():
    component = get_plugins().registry.get("config", "vtdl_r3d_synthetic")
    assert component.distribution == "vidssl-methods"
    assert (
        component.builder.parent.name == "configs"
        and component.builder.parent.parent.name == "vidssl_methods"
    ), "the file is in the package"
    assert without_source(load_config("vtdl_r3d_synthetic")) == without_source(load_config(SHIPPED))
    # what vidssl-bench synthetic runs is the package's file too
    assert get_plugins().registry.get("method", "vtdl").demo_config == str(component.builder)


def test_a_config_inherits_from_an_installed_one_by_name(tmp_path):
    (tmp_path / "local.py").write_text("seed = 5\n")
    mine = tmp_path / "mine.py"
    mine.write_text(
        "# my variant\n_base_ = [\n    'vtdl_r3d_synthetic',\n    'local.py',\n]\nlog = dict(interval=3)\n"
    )
    cfg, shipped = load_config(mine), load_config(SHIPPED)
    assert cfg["seed"] == 5 and cfg["log"]["interval"] == 3
    assert cfg["stages"] == shipped["stages"] and cfg["backbone"] == shipped["backbone"]
    with pytest.raises(
        ConfigError,
        match=r"unknown config 'vtdl_r3d_synthtic'; did you mean "
        r"'vtdl_r3d_synthetic'\?",
    ):
        load_config("vtdl_r3d_synthtic")
    mine.write_text("_base_ = ['vtdl_r3d_synthtic']\n")
    with pytest.raises(
        ConfigError,
        match=rf"{mine}:1: _base_: unknown config 'vtdl_r3d_synthtic'; "
        r"did you mean 'vtdl_r3d_synthetic'\?",
    ):
        load_config(mine)


def test_a_config_name_two_packages_ship_names_both(tmp_path):
    (tmp_path / "mine.py").write_text("stages = []\n")
    env = make_distribution(
        tmp_path,
        "other-configs",
        "0.3",
        "other_configs",
        f"""
        from vidssl import hookimpl

        @hookimpl
        def vidssl_register_configs(register):
            register("vtdl_r3d_synthetic", {str(tmp_path / 'mine.py')!r})
    """,
    )
    result = run_cli("vidssl-plugins", "--configs", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "config 'vtdl_r3d_synthetic' is registered twice: by other-configs 0.3 and by "
        "vidssl-methods 0.1.0" in result.stderr
    ), result.stderr
