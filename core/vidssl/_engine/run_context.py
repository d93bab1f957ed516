"""What the training loop, evaluators, extractors and hooks may use of a run: :class:`RunContext`.

The runner makes one per run and hands it out instead of itself. Hooks receive it as ``run``;
everything documented here is stable for plugins to rely on.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pluggy
import torch

from vidssl._common import checkpoint
from vidssl._common.errors import ConfigError, DataError, PluginError
from vidssl._common.schema import format_path
from vidssl._distributed import process_group as distributed
from vidssl._engine.data_faults import FAULTS_FILE, exclude_known_faults
from vidssl._engine.dataset_subset import DatasetSubset
from vidssl._engine.evaluation import EvaluationContext
from vidssl._engine.stop_signals import StopSignals
from vidssl._engine.work_dir import job_identity
from vidssl._plugin_system.contracts import ClipDataset, check, clips_per_item

if TYPE_CHECKING:
    from vidssl._engine.stage import Stage
    from vidssl._plugin_system.manager import Plugins


@dataclass
class RunContext:
    """One run: its merged config, work dir and device, the plugins' hook relay, the results of
    the stages finished so far, and the two services every stage uses (checkpointing and
    evaluation).

    * ``cfg``: the merged, validated config (``cfg["log"]``, ``cfg["seed"]``, ...);
    * ``work_dir``: where everything of the run is written (rank 0 writes);
    * ``device``: this process's ``torch.device``;
    * ``results``: stage name → metrics, as in ``results.json``;
    * ``protocols``: stage name → protocol card, as in ``protocols.json``;
    * ``resume``: whether the run continues from ``checkpoints/last.pt``;
    * ``planned``: the names of the stages this run will run, in order (set before
      ``vidssl_run_start``: selected by ``--stages`` and not finished already);
    * ``left_out``: stage name → dataset key → the videos that dataset left out when it was made
      (listed by :meth:`build_dataset` in ``unusable_videos/<stage>.<key>.tsv``);
    * ``signals``: the run's stop signals and ``checkpoint.interval_minutes`` clock
      (:class:`~vidssl._engine.stop_signals.StopSignals`; the runner sets it).
    """

    cfg: dict[str, Any]
    work_dir: Path
    device: torch.device
    plugins: Plugins
    resume: bool = False
    results: dict[str, dict[str, float | None]] = field(default_factory=dict)
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)
    signals: StopSignals = field(default_factory=lambda: StopSignals([]))

    @property
    def hook(self) -> pluggy.HookRelay:
        """The lifecycle hooks (``run.hook.vidssl_epoch_end(run=run, ...)``)."""
        return self.plugins.hook

    @property
    def is_main(self) -> bool:
        """Rank 0 (the only process that writes files and logs)."""
        return distributed.is_main()

    @property
    def world_size(self) -> int:
        return distributed.world_size()

    @property
    def checkpoint_dir(self) -> Path:
        return self.work_dir / "checkpoints"

    def build(self, kind: str, stage: Stage, key: str, **context: Any) -> Any:
        """Build ``stage.cfg[key]`` as a ``kind`` component (errors name ``stages[i].key``); a
        dataset through :meth:`build_dataset`."""
        if kind == "dataset":
            return self.build_dataset(stage, stage.cfg[key], ["stages", stage.index, key], context["views"])
        return self.plugins.registry.build(kind, stage.cfg[key], ["stages", stage.index, key], **context)

    def build_dataset(self, stage: Stage, cfg: dict[str, Any], path: list, views: dict[str, dict]) -> Any:
        """A dataset for ``stage`` (``path`` names it in errors), checked against the
        :class:`~vidssl.ClipDataset` contract; the training dataset keeps only the rows
        listed by the stage's ``rows_from`` file, and every dataset is cut to the stage's
        ``max_videos`` first rows when set."""
        dataset = self.plugins.registry.build("dataset", cfg, path, views=views)
        check(dataset, ClipDataset, ".".join(map(str, path)))
        excluded = exclude_known_faults(dataset, self.work_dir)
        if excluded and self.is_main:
            print(
                f"vidssl: stage '{stage.name}' {path[-1]}: {excluded} videos left out as they "
                f"broke a data worker earlier ({self.work_dir / FAULTS_FILE})",
                file=sys.stderr,
            )
        if path[-1] != "dataset" and clips_per_item(dataset) > 1:
            raise ConfigError(
                f"{format_path(path)}: its items hold {clips_per_item(dataset)} "
                f"augmented clips each; only the dataset a stage trains on may "
                f"(evaluation reads each video once)"
            )
        self._list_unusable(stage, str(path[-1]), list(getattr(dataset, "unusable", None) or []))
        rows = list(range(len(dataset)))
        if stage.cfg.get("rows_from") and path[-1] == "dataset":
            rows = _rows_file(self.work_dir / stage.cfg["rows_from"], len(dataset), stage.name)
        if stage.cfg.get("max_videos"):
            rows = rows[: stage.cfg["max_videos"]]
        return dataset if len(rows) == len(dataset) else DatasetSubset(dataset, rows)

    def _list_unusable(self, stage: Stage, key: str, unusable: list[tuple[str, str]]) -> None:
        """The videos a dataset left out when it was made (its ``unusable``: (video, why) pairs,
        see :class:`vidssl.ClipDataset`): listed in
        ``unusable_videos/<stage>.<key>.tsv`` and counted in :attr:`left_out` (the runner puts
        the count on the stage's card)."""
        if not unusable:
            return
        self.left_out.setdefault(stage.name, {})[key] = len(unusable)
        if self.is_main:
            listing = self.work_dir / "unusable_videos" / f"{stage.name}.{key}.tsv"
            listing.parent.mkdir(exist_ok=True)
            listing.write_text("".join(f"{why}\t{video}\n" for video, why in unusable))

    def save_checkpoint(self, content: dict[str, Any], best: bool = False) -> None:
        """Write ``checkpoints/last.pt`` (and ``best.pt``) on rank 0 after the
        ``vidssl_checkpoint_save`` hooks added their entries; every rank waits for it. An entry
        that would break every later ``--resume`` is refused, naming the hook that added it."""
        if self.is_main:
            content["job"] = job_identity()  # an attempt of the same job resumes by itself
            before = set(content)
            self.hook.vidssl_checkpoint_save(run=self, checkpoint=content)
            checkpoint.check_loadable(
                {k: content[k] for k in set(content) - before}, self._checkpoint_entry_owner
            )
            checkpoint.save_atomic(content, self.checkpoint_dir / "last.pt")
            if best:
                checkpoint.save_atomic(content, self.checkpoint_dir / "best.pt")
        distributed.barrier()

    def _checkpoint_entry_owner(self, key: str) -> str:
        """Which ``vidssl_checkpoint_save`` hook adds the entry ``key``: each one is called alone
        (through pluggy) on an empty checkpoint until one adds it."""
        manager = self.plugins.manager
        hooks = [impl.plugin for impl in self.hook.vidssl_checkpoint_save.get_hookimpls()]
        for hook in hooks:
            alone = manager.subset_hook_caller("vidssl_checkpoint_save", [h for h in hooks if h is not hook])
            entries: dict[str, Any] = {}
            alone(run=self, checkpoint=entries)
            if key in entries:
                return f"hook '{manager.get_name(hook)}'"
        return "a vidssl_checkpoint_save hook"

    @contextlib.contextmanager
    def hooks_added(self, hooks: dict[str, object]) -> Iterator[None]:
        """``hooks`` (name, as errors give it → object with hook implementations) registered
        for the ``with`` block, in order (a later one wraps an earlier one of the same kind).
        A misspelled hook name or an argument no hook spec has is a :class:`PluginError`, and
        then none is registered."""
        manager = self.plugins.manager
        for name, hook in hooks.items():
            self.plugins.check_hook_names(hook, name)
        registered = []
        try:
            for name, hook in hooks.items():
                manager.register(hook, name=name)
                registered.append(hook)
        except pluggy.PluginValidationError as exc:
            for hook in registered:  # the process's plugin manager is left as it was
                manager.unregister(hook)
            raise PluginError(f"{exc}") from None
        try:
            yield
        finally:
            for hook in registered:
                manager.unregister(hook)

    def evaluation_context(self, stage: Stage, dataset_key: str) -> EvaluationContext:
        """Context over the stage's ``dataset_key`` dataset, built with the method's eval views."""
        views = stage.method.eval_views if stage.method is not None else {"clip": {}}
        dataset = (
            self.build("dataset", stage, dataset_key, views=views)
            if stage.cfg.get(dataset_key) is not None
            else None
        )
        return EvaluationContext(
            self, stage, stage.method, dataset, stage.cfg["batch_size"], stage.cfg["num_workers"]
        )

    def evaluate(self, stage: Stage) -> dict[str, float]:
        """Run the stage's evaluator (built with the stage) on its ``val_dataset`` (with
        ``skipped_videos`` when some were unreadable); fire ``vidssl_evaluation_end``."""
        context = self.evaluation_context(stage, "val_dataset")
        metrics = dict(stage.evaluator.evaluate(context))
        skipped = sum(distributed.all_gather_objects(context.skipped))
        if skipped:  # named on stderr as they were skipped
            metrics["skipped_videos"] = float(skipped)
        self.hook.vidssl_evaluation_end(run=self, stage=stage, metrics=metrics)
        return metrics


def _rows_file(path: Path, size: int, stage: str) -> list[int]:
    """The dataset rows an earlier stage listed in ``path`` (a 1-d integer ``.npy``)."""
    if not path.is_file():
        raise ConfigError(
            f"stage '{stage}': rows_from {path} does not exist (run the stage that writes it first)"
        )
    rows = np.load(path)
    if (
        rows.ndim != 1
        or rows.dtype.kind not in "iu"
        or (len(rows) and not 0 <= rows.min() <= rows.max() < size)
    ):
        raise DataError(
            f"{path}: expected dataset rows in 0..{size - 1}, got {rows.dtype} {list(rows.shape)}"
        )
    return rows.tolist()
