"""A bad config fails before any work, naming the key path, where it is written, and what was
expected."""

from __future__ import annotations

import pytest

from conftest import run_cli
from vidssl import ConfigError, Runner, StageKind, get_plugins, load_config, validate_config
from vidssl._plugin_system.registry import Component


def check(path, *options):
    validate_config(load_config(path, list(options)), get_plugins().registry)


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_valid_tiny_config_passes(tiny_config):
    check(tiny_config)


def test_misspelled_stage_key_names_path_line_and_nearest_key(tiny_config):
    edit(tiny_config, "optimizer=dict(type='SGD'", "optimzer=dict(type='SGD'")
    with pytest.raises(ConfigError) as info:
        check(tiny_config)
    message = str(info.value)
    assert "stages[1].optimzer: unknown key 'optimzer'; did you mean 'optimizer'?" in message
    line = next(i for i, text in enumerate(tiny_config.read_text().splitlines(), 1) if "optimzer" in text)
    assert f"{tiny_config}:{line}" in message


def test_misspelled_component_argument_is_caught_inside_nested_view(tiny_config):
    edit(tiny_config, "_view = dict(clip_len=8", "_view = dict(clip_lenn=8")
    with pytest.raises(
        ConfigError,
        match=r"stages\[0\]\.dataset\.view\.clip_lenn: unknown key "
        r"'clip_lenn'; did you mean 'clip_len'\?",
    ):
        check(tiny_config)


def test_wrong_type_says_what_was_expected(tiny_config):
    with pytest.raises(
        ConfigError,
        match=r"stages\[1\]\.epochs: expected integer, got 'two' "
        r"\(str\) \(set by --cfg-options\)",
    ):
        check(tiny_config, "stages.1.epochs=two")


class CountVideos(StageKind):
    """A plugin's own stage kind: counts the videos of its ``val_dataset``."""

    required = ("val_dataset",)
    evaluates_val_dataset = False

    def run(self, run, stage, progress):
        return {"videos": float(len(run.evaluation_context(stage, "val_dataset").dataset))}


def test_unknown_component_lists_nearest_and_available(tiny_config, tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"stages\[0\]\.type: unknown stage 'prob'; did you mean "
        r"'probe'\? \(available stages: evaluate, extract, probe",
    ):
        check(tiny_config, "stages.0.type=prob")
    registry = get_plugins().registry
    if "count_videos" not in registry.names("stage"):
        registry.add(Component("stage", "count_videos", CountVideos, {"type": "object"}, "tests", "0"))
    cfg = load_config(tiny_config, ["stages.0.type=count_videos"])
    lacking = {**cfg, "stages": [{k: v for k, v in cfg["stages"][0].items() if k != "val_dataset"}]}
    with pytest.raises(
        ConfigError,
        match=r"stages\[0\]\.val_dataset: required for a "
        r"'count_videos' stage",
    ):
        validate_config(lacking, registry)
    assert Runner(cfg, tmp_path / "run", only=["probe_random"]).run() == {"probe_random": {"videos": 20.0}}, (
        "a registered stage kind runs like a built-in one"
    )
    edit(tiny_config, "type='supervised'", "type='supervisd'")
    with pytest.raises(
        ConfigError,
        match=r"stages\[1\]\.method\.type: unknown method 'supervisd'; "
        r"did you mean 'supervised'\? \(available methods: .*linear_probe",
    ):
        check(tiny_config)


def test_torch_optimizer_arguments_are_checked(tiny_config):
    edit(tiny_config, "momentum=0.9", "momentun=0.9")
    with pytest.raises(
        ConfigError,
        match=r"stages\[1\]\.optimizer\.momentun: unknown key "
        r"'momentun'; did you mean 'momentum'\?",
    ):
        check(tiny_config)


def test_unknown_top_level_key_and_duplicate_stage_name(tiny_config):
    with pytest.raises(ConfigError, match=r"^sed: unknown key 'sed'; did you mean 'seed'\?"):
        check(tiny_config, "sed=1")
    with pytest.raises(ConfigError, match=r"stages\[2\]\.name: stage name 'probe_random' is used twice"):
        check(tiny_config, "stages.2.name=probe_random")


def test_init_from_must_name_a_stage_or_a_file(tiny_config):
    with pytest.raises(ConfigError, match=r"stages\[2\]\.init_from: 'pretrian' is neither a stage"):
        check(tiny_config, "stages.2.init_from=pretrian")


def test_cli_prints_one_line_without_traceback_unless_debug(tiny_config):
    edit(tiny_config, "optimizer=dict(type='SGD'", "optimzer=dict(type='SGD'")
    result = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(tiny_config.parent / "wd"))
    assert result.returncode == 2
    assert "vidssl-run: error: stages[1].optimzer: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tiny_config.parent / "wd").exists(), "nothing may be written for a bad config"
    debug = run_cli("vidssl-run", str(tiny_config), "--debug")
    assert "Traceback" in debug.stderr and "ConfigError" in debug.stderr


def test_data_root_precedence_and_helpers_refused(tmp_path, monkeypatch):
    config = tmp_path / "c.py"
    config.write_text(
        "_root = '{data_root}/ucf101'\nstages = [dict(name='a', type='extract', "
        "extractor=dict(type='features'), dataset=dict(type='video_files', "
        "paths=['x.avi'], root=_root))]\n"
    )
    root_of = lambda cfg: cfg["stages"][0]["dataset"]["root"]  # noqa: E731
    monkeypatch.delenv("VIDSSL_DATA_ROOT", raising=False)
    assert root_of(load_config(config)) == "data/ucf101"
    monkeypatch.setenv("VIDSSL_DATA_ROOT", "/from/env")
    assert root_of(load_config(config)) == "/from/env/ucf101"
    config.write_text("data_root = '/in/config'\n" + config.read_text())
    assert root_of(load_config(config)) == "/in/config/ucf101"
    assert root_of(load_config(config, ["data_root=/option"])) == "/option/ucf101"
    with pytest.raises(
        ConfigError,
        match=r"'_root' is a helper of the config file .* set the "
        r"key that uses it instead \(e.g. data_root=",
    ):
        load_config(config, ["_root=/elsewhere"])


def test_a_data_root_no_path_uses_is_refused_and_nothing_is_written(tmp_path):
    """synthetic_motion without a root falls back to its own default (./data): a data_root on
    the command line would have changed nothing while 53 MB went into ./data."""
    config = tmp_path / "own_default.py"
    config.write_text(
        "backbone = dict(type='r3d', depth=10, width=0.125)\nstages = [dict("
        "name='a', type='train', dataset=dict(type='synthetic_motion'), "
        "method=dict(type='supervised', num_classes=10), "
        "optimizer=dict(type='SGD', lr=0.1))]\n"
    )
    result = run_cli("vidssl-run", str(config), "--cfg-options", f"data_root={tmp_path / 'x'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert (
        f"data_root={tmp_path / 'x'} (--cfg-options): no path of {config} uses {{data_root}}" in result.stderr
    )
    assert not (tmp_path / "data").exists() and not (tmp_path / "work_dirs").exists()


def test_short_videos_and_unmeetable_gaps_are_warned_with_counts(data_root, capsys):
    """Clips longer than the videos loop (as the seeds' loaders do) and a min_gap the videos
    cannot give: both silent before, now a start-up warning each, with counts."""
    import vidssl

    cfg = {
        "type": "synthetic_motion",
        "root": str(data_root),
        "size": 16,
        "frames": 12,
        "train_per_class": 4,
        "test_per_class": 2,
        "view": {"clip_len": 10, "size": 16},
    }
    vidssl.build("dataset", cfg, views={"clip": {}, "far": {"different_time_from": "clip", "min_gap": 5}})
    err = capsys.readouterr().err
    assert (
        "synthetic_motion[train]: 40 of 40 videos are too short for view 'far' to start "
        "min_gap=5 frames from view 'clip' (that needs 15 frames)" in err
    )
    vidssl.build("dataset", {**cfg, "view": {"clip_len": 13, "size": 16}}, views={"clip": {}})
    assert (
        "synthetic_motion[train]: 40 of 40 videos are shorter than the 13 frames of view "
        "clip; their clips loop back to the start" in capsys.readouterr().err
    )


def test_synthetic_datasets_of_other_sizes_live_side_by_side(tmp_path):
    import vidssl

    def build(per_class):
        return vidssl.build(
            "dataset",
            {
                "type": "synthetic_motion",
                "root": str(tmp_path),
                "size": 16,
                "frames": 8,
                "train_per_class": per_class,
                "test_per_class": 1,
                "view": {"clip_len": 4, "size": 16},
            },
            views={"clip": {}},
        )

    small, large = build(1), build(2)
    assert len(small) == 10 and len(large) == 20
    assert small[3]["skipped"] == 0 and len(build(1)) == 10, "generating one kept the other"
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def line_of(path, text, occurrence=1):
    """Line number of the ``occurrence``-th line of ``path`` holding ``text``."""
    lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return lines[occurrence - 1]


def test_error_location_is_the_offending_line_not_the_first_of_its_key(tiny_config):
    # the third stage's `type=` is wrong; the first `type=` of the file is on another line
    edit(
        tiny_config,
        "method=dict(type='linear_probe', num_classes=10),\n         "
        "optimizer=dict(type='Adam', lr=1e-2), epochs=1),\n]",
        "method=dict(type='linear_prob', num_classes=10),\n         "
        "optimizer=dict(type='Adam', lr=1e-2), epochs=1),\n]",
    )
    with pytest.raises(ConfigError) as info:
        check(tiny_config)
    line = line_of(tiny_config, "'linear_prob'")
    assert str(info.value).endswith(f"({tiny_config}:{line})")


def test_duplicate_stage_name_points_at_the_second(tiny_config):
    edit(tiny_config, "dict(name='probe', type='probe'", "dict(name='probe_random', type='probe'")
    with pytest.raises(ConfigError) as info:
        check(tiny_config)
    assert str(info.value).endswith(f"({tiny_config}:{line_of(tiny_config, 'probe_random', 2)})")


def test_error_location_follows_helpers_base_files_and_stage_defaults(tiny_config):
    # a view key written in the `_view` helper
    edit(tiny_config, "_view = dict(clip_len=8", "_view = dict(clip_len='8'")
    with pytest.raises(ConfigError) as info:
        check(tiny_config)
    assert str(info.value).endswith(f"({tiny_config}:{line_of(tiny_config, '_view = dict')})")
    edit(tiny_config, "_view = dict(clip_len='8'", "_view = dict(clip_len=8")
    # a dataset key splatted in from the `_data` helper (`dict(type=..., **_data)`)
    edit(tiny_config, "frames=12", "frames='12'")
    with pytest.raises(ConfigError, match=r"stages\[0\]\.dataset\.frames: expected") as info:
        check(tiny_config)
    assert str(info.value).endswith(f"({tiny_config}:{line_of(tiny_config, '_data = dict')})")
    edit(tiny_config, "frames='12'", "frames=12")
    # keys of stage_defaults written in the base file the config inherits from (the config's own
    # stage_defaults sets other keys; mmengine merges the two)
    base = tiny_config.parent / "base.py"
    base.write_text(
        "# base\n\nstage_defaults = dict(num_workers=0,\n                      clip_grad_norm='1.0')\n"
    )
    tiny_config.write_text("_base_ = ['base.py']\n" + tiny_config.read_text())
    with pytest.raises(ConfigError, match=r"stage_defaults\.clip_grad_norm: expected") as info:
        check(tiny_config)
    assert str(info.value).endswith(f"({base}:4)")
    # a stage key checked per stage but written in stage_defaults
    base.write_text(
        "# base\n\nstage_defaults = dict(num_workers=0,\n                      init_from='pretrian')\n"
    )
    with pytest.raises(ConfigError, match=r"stages\[0\]\.init_from: 'pretrian'") as info:
        check(tiny_config)
    assert str(info.value).endswith(f"({base}:4)")
