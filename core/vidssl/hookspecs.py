"""Hook specifications: everything a plugin can tell vidssl, and everything vidssl tells plugins.

A plugin is a module named by an entry point in the group ``vidssl.plugins``. It implements any of
the hooks below with functions of the same name decorated by :data:`vidssl.hookimpl`; pluggy calls
them with keyword arguments, so an implementation may accept only the arguments it needs.

Two families:

* registration hooks (``vidssl_register_*``) are called once, when the plugin manager loads; each
  receives a :class:`~vidssl.registry.Registrar` bound to one component kind and to the calling
  distribution, and adds named components with ``register(name, builder, schema=None)``;
* lifecycle hooks are called by the runner. Installed plugin modules receive them for every run;
  components of kind ``hook`` receive them only in runs whose config lists them in ``custom_hooks``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from vidssl.registry import Registrar
    from vidssl.runner import Runner, Stage

hookspec = pluggy.HookspecMarker("vidssl")


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------

@hookspec
def vidssl_register_backbones(register: Registrar) -> None:
    """Add backbones: builders returning an ``nn.Module`` without a head.

    A backbone maps ``B×3×T×H×W`` clips to ``B×feat_dim`` pooled features, has a ``feat_dim``
    attribute and a ``forward_features(x)`` returning an ordered dict of named stage maps.
    """


@hookspec
def vidssl_register_methods(register: Registrar) -> None:
    """Add training methods: builders called as ``builder(backbone=..., **cfg)`` that return a
    :class:`vidssl.method.Method`."""


@hookspec
def vidssl_register_datasets(register: Registrar) -> None:
    """Add datasets: builders called as ``builder(views=..., **cfg)`` returning a
    ``torch.utils.data.Dataset`` whose items are ``{"views": {name: C×T×H×W}, "label": int,
    "index": int}``."""


@hookspec
def vidssl_register_transforms(register: Registrar) -> None:
    """Add clip transforms: builders returning a callable ``clip -> clip`` on ``C×T×H×W``
    tensors (or on frame arrays, as the transform documents)."""


@hookspec
def vidssl_register_evaluators(register: Registrar) -> None:
    """Add evaluators: builders returning an object with ``evaluate(context) -> dict[str, float]``
    (see :class:`vidssl.evaluator.EvaluationContext`)."""


@hookspec
def vidssl_register_extractors(register: Registrar) -> None:
    """Add extractors: builders returning an object with ``run(context) -> dict[str, float]``,
    usable as an ``extract`` stage (features, descriptors, cluster labels written to the work dir)."""


@hookspec
def vidssl_register_hooks(register: Registrar) -> None:
    """Add hook components: builders returning an object whose methods are lifecycle hook
    implementations (decorated with :data:`vidssl.hookimpl`). A run registers them only when its
    config lists them in ``custom_hooks``."""


# --------------------------------------------------------------------------------------------
# Lifecycle (called by the runner, on every rank; ``runner.is_main`` tells rank 0)
# --------------------------------------------------------------------------------------------

@hookspec
def vidssl_run_start(runner: Runner) -> None:
    """Called once the config is validated and the work dir exists, before the first stage."""


@hookspec
def vidssl_run_end(runner: Runner, results: dict[str, dict[str, float]]) -> None:
    """Called after the last stage with ``results`` (stage name → metrics) as written to
    ``results.json``."""


@hookspec
def vidssl_stage_start(runner: Runner, stage: Stage) -> None:
    """Called when a stage starts (or resumes), after its components are built."""


@hookspec
def vidssl_stage_end(runner: Runner, stage: Stage, metrics: dict[str, float]) -> None:
    """Called when a stage finishes, with the final metrics it reports."""


@hookspec
def vidssl_epoch_start(runner: Runner, stage: Stage, epoch: int) -> None:
    """Called before each training epoch (0-based ``epoch``)."""


@hookspec
def vidssl_epoch_end(runner: Runner, stage: Stage, epoch: int,
                     metrics: dict[str, float]) -> None:
    """Called after each training epoch with its mean losses, learning rate and any
    validation metrics."""


@hookspec
def vidssl_iteration_end(runner: Runner, stage: Stage, epoch: int, iteration: int,
                         losses: dict[str, Any]) -> None:
    """Called after each optimizer step. ``losses`` maps names to detached 0-d tensors;
    ``iteration`` counts steps inside the epoch from 0."""


@hookspec
def vidssl_evaluation_end(runner: Runner, stage: Stage, metrics: dict[str, float]) -> None:
    """Called after an evaluation pass with its metrics (accuracies in percent)."""


@hookspec
def vidssl_checkpoint_save(runner: Runner, checkpoint: dict[str, Any]) -> None:
    """Called before a checkpoint is written; implementations may add entries (tensors and
    plain containers only, so the file loads with ``weights_only=True``)."""


@hookspec
def vidssl_checkpoint_load(runner: Runner, checkpoint: dict[str, Any]) -> None:
    """Called after a checkpoint was loaded for ``--resume``, with its full content."""
