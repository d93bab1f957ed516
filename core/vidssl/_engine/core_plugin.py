"""The core's own plugin (entry point ``vidssl``): its stage kinds (``train``, ``probe``,
``evaluate``, ``extract``) and its weight layout (``vidssl``), registered through the same hooks a
plugin implements. Like every plugin's entry module it imports its components inside the hooks: a
command imports only the kinds it asks for (a stage kind is torch code)."""

from typing import Any

from vidssl._plugin_system.hookspecs import hookimpl


@hookimpl
def vidssl_register_stages(register: Any) -> None:
    from vidssl._engine import stage_kinds  # noqa: PLC0415 -- lazy: imports torch

    for name, kind in (
        ("train", stage_kinds.TrainStage),
        ("probe", stage_kinds.ProbeStage),
        ("evaluate", stage_kinds.EvaluateStage),
        ("extract", stage_kinds.ExtractStage),
    ):
        register(name, kind)


@hookimpl
def vidssl_register_weight_formats(register: Any) -> None:
    from vidssl._engine.weights import VIDSSL, VidsslLayout  # noqa: PLC0415 -- lazy: imports torch

    register(VIDSSL, VidsslLayout)
