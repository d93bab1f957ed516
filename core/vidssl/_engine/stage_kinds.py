"""Stage kinds: what each ``type`` of a ``stages`` entry is, as a class.

A kind knows the keys a stage of it needs, how it builds what it needs beyond the method, how it
runs, how ``--smoke`` reshapes it and what it adds to the stage's protocol card. Kinds are
components of kind ``stage`` in the registry (registered by the core's own plugin,
:mod:`vidssl._engine.core_plugin`); a plugin adds one with ``vidssl_register_stages`` and a subclass of
:class:`StageKind`. Built in:

* ``train`` – optimise a method (SSL objective, supervised, fine-tuning) on a dataset;
* ``probe`` – the same with the backbone frozen and in eval mode (linear probe);
* ``evaluate`` – run an evaluator on a held-out dataset (multi-clip test, retrieval);
* ``extract`` – run an extractor (features, descriptors, cluster labels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vidssl._common.errors import CheckpointError, ConfigError, DataError
from vidssl._config.optim import build_optimizer, build_scheduler
from vidssl._distributed import process_group as distributed
from vidssl._distributed.sync_batchnorm import convert_sync_batchnorm
from vidssl._engine.sampler import ResumableSampler
from vidssl._engine.stage import carry_over
from vidssl._plugin_system.method import Method

if TYPE_CHECKING:
    from torch import nn

    from vidssl._engine.run_context import RunContext
    from vidssl._engine.stage import Stage


class StageKind:
    """Base of the stage kinds; the defaults are an evaluating stage's."""

    #: stage keys that must be set
    required: tuple[str, ...] = ()
    #: whether it trains (dataset, sampler, optimizer, epochs, a resumable loop)
    trains = False
    #: whether the backbone is frozen and kept in eval mode while it trains
    freezes_backbone = False
    #: whether it runs the backbone (the config must name one)
    needs_backbone = True
    #: whether a ``val_dataset`` of it is evaluated (and so needs an ``evaluator``)
    evaluates_val_dataset = True
    #: datasets whose class count must equal ``method.num_classes``
    class_checked: tuple[str, ...] = ("dataset", "val_dataset")

    def check(self, stage: dict[str, Any], where: str, cfg: dict[str, Any]) -> None:
        """Config errors of a stage of this kind (``where``: ``stages[i]``)."""
        for key in self.required:
            if stage.get(key) is None:
                raise ConfigError(f"{where}.{key}: required for a '{stage['type']}' stage")
        if self.needs_backbone and "backbone" not in cfg:
            raise ConfigError("backbone: required key is missing (stages need a backbone)")
        if (
            self.evaluates_val_dataset
            and stage.get("val_dataset") is not None
            and stage.get("evaluator") is None
        ):
            raise ConfigError(f"{where}.evaluator: required when val_dataset is set")

    def builds_evaluator(self, stage: dict[str, Any]) -> bool:
        """Whether the stage's ``evaluator`` is built (and on its card)."""
        return stage.get("evaluator") is not None and stage.get("val_dataset") is not None

    def build(
        self, run: RunContext, stage: Stage, backbone: nn.Module | None, saved: dict[str, Any] | None
    ) -> None:
        """Build what the stage needs beyond its method (``saved``: the ``init_from``
        checkpoint, if one was loaded)."""

    def run(self, run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
        """Run the built stage (``progress``: a resumed ``last.pt``'s entry); its metrics."""
        raise NotImplementedError

    def smoke(self, stage: dict[str, Any], merged: dict[str, Any], iters: int) -> None:
        """Reshape the config entry ``stage`` (``merged``: with ``stage_defaults``) for a
        ``--smoke`` run of ``iters`` iterations."""
        stage["batch_size"] = min(2, merged.get("batch_size", 8))

    def card(self, stage: dict[str, Any]) -> dict[str, Any]:
        """What this kind adds to the stage's protocol card."""
        return {}


class TrainStage(StageKind):
    required = ("method", "dataset", "optimizer")
    trains = True

    def build(
        self, run: RunContext, stage: Stage, backbone: nn.Module | None, saved: dict[str, Any] | None
    ) -> None:
        """Dataset, ``method.prepare``, the ``init_method`` state, sampler, optimizer and
        scheduler."""
        cfg, method = stage.cfg, stage.method
        assert method is not None, "a training stage has a method (validated)"
        stage.dataset = run.build("dataset", stage, "dataset", views=method.views)
        method.prepare(stage.dataset, run.work_dir)
        if saved is not None and cfg["init_method"]:
            if "method" not in saved:
                raise CheckpointError(
                    f"stage '{stage.name}': init_method is set but init_from "
                    f"'{cfg['init_from']}' saved no method state"
                )
            carry_over(method, saved["method"], stage.name)
        if self.freezes_backbone:
            method.backbone.requires_grad_(False)
        stage.sampler = ResumableSampler(
            len(stage.dataset),
            shuffle=True,
            seed=run.cfg["seed"] + stage.index,
            rank=distributed.rank(),
            world_size=distributed.world_size(),
            drop_last=True,
        )
        stage.iters_per_epoch = _iters_per_epoch(stage)
        if cfg["sync_bn"]:
            convert_sync_batchnorm(method, run.device)
        stage.optimizer = build_optimizer(cfg["optimizer"], method)
        stage.scheduler = build_scheduler(
            cfg["scheduler"], stage.optimizer, cfg["epochs"], stage.iters_per_epoch // cfg["accumulate"]
        )

    def run(self, run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
        # imported here: the training loop brings torch.compile's machinery (about 1 s), which
        # a command that only reads configs or datasets should not wait for
        from vidssl._engine.training import train  # noqa: PLC0415 -- lazy: start-up

        return train(run, stage, progress)

    def smoke(self, stage: dict[str, Any], merged: dict[str, Any], iters: int) -> None:
        stage.update(max_iters=iters, epochs=1, batch_size=2, val_interval=0, accumulate=1, global_batch=None)

    def card(self, stage: dict[str, Any]) -> dict[str, Any]:
        return {
            "training": {
                "epochs": stage["epochs"],
                "batch_size": stage["batch_size"],
                "accumulate": stage["accumulate"],
                "backbone": "frozen (eval mode)" if self.freezes_backbone else "trained",
                "optimizer": stage.get("optimizer"),
                "scheduler": stage.get("scheduler"),
                "precision": stage["precision"],
                "max_iters": stage["max_iters"],
            }
        }


class ProbeStage(TrainStage):
    freezes_backbone = True


class EvaluateStage(StageKind):
    required = ("val_dataset", "evaluator")

    def builds_evaluator(self, stage: dict[str, Any]) -> bool:
        return stage.get("evaluator") is not None

    def build(
        self, run: RunContext, stage: Stage, backbone: nn.Module | None, saved: dict[str, Any] | None
    ) -> None:
        """The method's state from ``init_from`` when it saved the same method (a test stage
        after fine-tuning); without a method, the backbone's own features."""
        if stage.method is None:
            assert backbone is not None, "an evaluate stage has a backbone"
            stage.method = Method(backbone)
        elif saved is not None and saved.get("method_type") == stage.cfg["method"]["type"]:
            stage.method.load_state_dict(saved["method"])

    def run(self, run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
        return run.evaluate(stage)


class ExtractStage(StageKind):
    required = ("extractor",)
    needs_backbone = False
    evaluates_val_dataset = False
    class_checked = ("val_dataset",)

    def build(
        self, run: RunContext, stage: Stage, backbone: nn.Module | None, saved: dict[str, Any] | None
    ) -> None:
        stage.extractor = run.build("extractor", stage, "extractor")

    def run(self, run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
        return stage.extractor.run(run.evaluation_context(stage, "dataset"))


def _iters_per_epoch(stage: Stage) -> int:
    """Steps per epoch: whole batches of this process's share, at most ``max_iters``, whole
    accumulation groups only (every optimizer step sees ``accumulate`` batches)."""
    cfg, sampler = stage.cfg, stage.sampler
    assert sampler is not None, "made before the steps are counted"
    iters = len(sampler) // cfg["batch_size"]
    if cfg["max_iters"]:  # a quick trial: at most this many steps per epoch
        iters = min(iters, cfg["max_iters"])
    iters -= iters % cfg["accumulate"]
    if iters == 0:
        raise DataError(
            f"stage '{stage.name}': dataset has {len(stage.dataset)} samples, fewer "
            f"than {cfg['accumulate']} batch(es) of {cfg['batch_size']} per process "
            f"(accumulate × batch_size)"
        )
    return iters
