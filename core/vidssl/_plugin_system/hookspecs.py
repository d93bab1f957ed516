"""Hook specifications: everything a plugin can tell vidssl, and everything vidssl tells plugins.

A plugin is a module named by an entry point in the group ``vidssl.plugins``. It implements any of
the hooks below with functions of the same name decorated by :data:`vidssl.hookimpl`; pluggy calls
them with keyword arguments, so an implementation may accept only the arguments it needs.

Two families:

* registration hooks (``vidssl_register_*``) are called once, when the plugin manager loads; each
  receives a :class:`~vidssl._plugin_system.registry.Registrar` bound to one component kind and to the calling
  distribution, and adds named components with ``register(name, builder, schema=None)``;
* lifecycle hooks are called by the runner. Installed plugin modules receive them for every run;
  components of kind ``hook`` receive them only in runs whose config lists them in ``custom_hooks``.

Every lifecycle hook receives ``run``, the :class:`~vidssl.RunContext`: ``run.cfg``
(the merged config), ``run.work_dir``, ``run.device``, ``run.is_main`` (rank 0: the only process
that should write files), ``run.world_size``, ``run.results`` (stage name → metrics so far) and
``run.resume``. Stage hooks also receive the :class:`~vidssl.Stage`: ``stage.name``,
``stage.type``, ``stage.index``, ``stage.cfg`` (its keys with defaults filled in),
``stage.method`` and, for training stages, ``stage.iters_per_epoch``. Hooks are called on every
rank. A hook keeps state across ``--resume`` by adding entries in
:func:`vidssl_checkpoint_save` and reading them back in :func:`vidssl_checkpoint_load`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from vidssl._engine.run_context import RunContext
    from vidssl._engine.stage import Stage
    from vidssl._plugin_system.registry import Registrar

hookspec = pluggy.HookspecMarker("vidssl")
#: decorator of hook implementations (exported as :data:`vidssl.hookimpl`)
hookimpl = pluggy.HookimplMarker("vidssl")


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


@hookspec
def vidssl_register_backbones(register: Registrar) -> None:
    """Add backbones: builders returning an ``nn.Module`` without a head.

    A backbone maps ``B×3×T×H×W`` clips to ``B×feat_dim`` pooled features and has the
    attributes of :class:`vidssl.Backbone`: ``feat_dim``, ``forward_features(x)``
    (an ordered dict of named stage maps) and ``feature_info`` (their channels and strides).
    """


@hookspec
def vidssl_register_methods(register: Registrar) -> None:
    """Add training methods: builders called as ``builder(backbone=..., **cfg)`` that return a
    :class:`vidssl.Method`."""


@hookspec
def vidssl_register_datasets(register: Registrar) -> None:
    """Add datasets: builders called as ``builder(views=..., **cfg)`` (``views``: the view specs
    the stage's method asks for, name → dict) returning a dataset with the attributes of
    :class:`vidssl.ClipDataset`."""


@hookspec
def vidssl_register_transforms(register: Registrar) -> None:
    """Add clip transforms and temporal samplers that a dataset view can name
    (``view=dict(transforms=[dict(type=NAME, ...)], sampler=dict(type=NAME, ...))``):

    * a clip transform is a callable ``(clip, rng) -> clip`` on a normalised ``3×T×H×W`` float
      tensor, ``rng`` a ``numpy.random.Generator`` seeded per (seed, epoch, video);
    * a sampler has ``starts(n, span, num_clips, rng) -> list[int]``: the first frame of each of
      ``num_clips`` clips of ``span`` frames in an ``n``-frame video.
    """


@hookspec
def vidssl_register_evaluators(register: Registrar) -> None:
    """Add evaluators: builders returning an object with ``evaluate(context) -> dict[str, float]``
    (``context``: a :class:`vidssl.EvaluationContext`; accuracies in percent)."""


@hookspec
def vidssl_register_extractors(register: Registrar) -> None:
    """Add extractors: builders returning an object with ``run(context) -> dict[str, float]``
    (``context``: a :class:`vidssl.EvaluationContext` over the stage's ``dataset``),
    usable as an ``extract`` stage (features, descriptors, cluster labels written to the work dir)."""


@hookspec
def vidssl_register_hooks(register: Registrar) -> None:
    """Add hook components: builders returning an object whose methods are lifecycle hook
    implementations (decorated with :data:`vidssl.hookimpl`). A run registers them only when its
    config lists them in ``custom_hooks``."""


@hookspec
def vidssl_register_stages(register: Registrar) -> None:
    """Add stage kinds: subclasses of :class:`vidssl.StageKind` (registered as the class), named
    by the ``type`` a ``stages`` entry gives; the core registers ``train``, ``probe``,
    ``evaluate`` and ``extract`` this way."""


@hookspec
def vidssl_register_weight_formats(register: Registrar) -> None:
    """Add layouts of backbone weights (a seed repository's, another framework's): builders
    taking no arguments that return a :class:`vidssl.WeightFormat` (``to_vidssl`` renames a
    loaded checkpoint's keys to vidssl's, ``from_vidssl`` back). A stage loads such a file with
    ``init_from=PATH, init_format=NAME``; the core registers ``vidssl``, its own layout."""


@hookspec
def vidssl_register_configs(register: Registrar) -> None:
    """Add config files shipped in your package, by name: ``register(name, path)``.
    ``vidssl-run NAME`` runs one, ``_base_ = ['NAME']`` in a config inherits from one, and
    ``vidssl-plugins --configs`` lists them with their distribution."""


@hookspec
def vidssl_smoke_caps(kind: str, cfg: dict[str, Any], n_videos: int) -> dict[str, Any] | None:
    """Called by ``vidssl-run --smoke`` for every method, extractor and evaluator config
    (``kind``, ``cfg`` = ``{"type": name, ...}``) of a run whose datasets are cut to ``n_videos``
    rows: return ``{argument: value}`` for the arguments of your components that must shrink
    with the data (k-means ``k``, queue and prototype sizes, ...), or ``None``."""


@hookspec
def vidssl_smoke_tiny(kind: str, cfg: dict[str, Any]) -> dict[str, Any] | None:
    """Called by ``vidssl-run --smoke --tiny`` for every dataset config of the run (``kind`` =
    ``"dataset"``): return ``{argument: value}`` for the arguments of your component that make its
    clips small (about 8 frames of at most 64², at most 2 clips and one crop per video) and, for
    data generated on first use, its size small, or ``None``."""


@hookspec(firstresult=True)
def vidssl_dataset_card(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """Describe a dataset config of yours on a stage's protocol card (``protocols.json``): return
    ``{"data": ...}`` (which data, without the paths where it lies) and, where they apply,
    ``"input"`` (what a clip gives the network: frames, clip length, size) and ``"views"`` (the
    clips × crops per video a test averages, and how they are chosen); ``None`` if the config is
    not yours (the card then shows it as written)."""


# --------------------------------------------------------------------------------------------
# Lifecycle (called on every rank; see the module docstring for what ``run`` and ``stage`` offer)
# --------------------------------------------------------------------------------------------


@hookspec
def vidssl_run_start(run: RunContext) -> None:
    """Called once the config is validated, the work dir exists and a resumed run's checkpoint
    is loaded, before the first stage."""


@hookspec
def vidssl_run_end(run: RunContext, results: dict[str, dict[str, float]]) -> None:
    """Called after the last stage with ``results`` (stage name → metrics) as written to
    ``results.json``."""


@hookspec
def vidssl_stage_start(run: RunContext, stage: Stage) -> None:
    """Called when a stage starts (or resumes), after its components are built: ``stage.method``,
    and for training stages ``stage.dataset``, ``stage.optimizer`` and ``stage.iters_per_epoch``."""


@hookspec
def vidssl_stage_end(run: RunContext, stage: Stage, metrics: dict[str, float]) -> None:
    """Called when a stage finishes and its results are written, with its final ``metrics``."""


@hookspec
def vidssl_epoch_start(run: RunContext, stage: Stage, epoch: int) -> None:
    """Called before each training epoch (0-based ``epoch``)."""


@hookspec
def vidssl_epoch_end(run: RunContext, stage: Stage, epoch: int, metrics: dict[str, float]) -> None:
    """Called after each training epoch (0-based ``epoch``) with its mean losses, ``lr``,
    ``skipped_videos`` when some were skipped and, on validation epochs, ``val_*`` metrics; the
    epoch's checkpoint is written after this hook."""


@hookspec
def vidssl_iteration_end(
    run: RunContext, stage: Stage, epoch: int, iteration: int, losses: dict[str, Any]
) -> None:
    """Called after each optimizer step. ``losses`` maps names to detached 0-d tensors (the
    method's ``training_step`` output); ``iteration`` counts steps inside the epoch from 0."""


@hookspec
def vidssl_evaluation_batch(run: RunContext, stage: Stage, done: int, total: int, videos: int) -> None:
    """Called after each batch an evaluation reads (its own split, a retrieval gallery): ``done``
    of ``total`` batches of this pass over one dataset, ``videos`` in the batch (this process)."""


@hookspec
def vidssl_evaluation_end(run: RunContext, stage: Stage, metrics: dict[str, float]) -> None:
    """Called after every evaluation pass (validation epochs, the final evaluation of a training
    stage, an ``evaluate`` stage) with its metrics (accuracies in percent)."""


@hookspec
def vidssl_checkpoint_save(run: RunContext, checkpoint: dict[str, Any]) -> None:
    """Called on rank 0 before ``last.pt`` is written (every epoch, every
    ``checkpoint.interval_iters`` and at each stage end); implementations may add entries under
    their own key (tensors and plain containers only, so the file loads with
    ``weights_only=True``)."""


@hookspec
def vidssl_checkpoint_load(run: RunContext, checkpoint: dict[str, Any]) -> None:
    """Called when ``--resume`` loaded ``last.pt``, with its full content, before any stage runs
    (``custom_hooks`` receive it too)."""
