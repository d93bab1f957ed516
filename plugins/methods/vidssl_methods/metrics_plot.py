"""Hook ``metrics_plot``: ``metrics.png`` in the work dir, rewritten at every epoch end and at
the end of the run (rank 0), from ``metrics.jsonl``: the training loss of every logged iteration
with a smoothed line, the learning rate and the validation metrics per epoch, all stages one
after another on a shared step axis with their boundaries marked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vidssl import hookimpl


def _smooth(values: list[float], window: int) -> np.ndarray:
    """Running mean over ``window`` points (shorter at the start)."""
    cumulative = np.cumsum(np.insert(np.asarray(values, float), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - window)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


class MetricsPlot:
    """Plots training loss, learning rate and validation metrics of the whole run."""

    def __init__(self, filename: str = "metrics.png") -> None:
        self.filename = filename

    @hookimpl
    def vidssl_epoch_end(self, run) -> None:
        self.plot(run)

    @hookimpl
    def vidssl_run_end(self, run) -> None:
        self.plot(run)

    def plot(self, run) -> None:
        if run.is_main:
            plot_metrics(Path(run.work_dir) / "metrics.jsonl", Path(run.work_dir) / self.filename)


def plot_metrics(log: Path, out: Path) -> bool:
    """Draw the figure of ``log`` (a ``metrics.jsonl``) into ``out``; ``False`` when the log
    holds no training records (nothing drawn)."""
    if not log.is_file():
        return False
    records = [json.loads(line) for line in log.read_text().splitlines()]
    stages = list(dict.fromkeys(r["stage"] for r in records if r["event"] in ("iter", "epoch")))
    if not stages:
        return False
    import matplotlib  # noqa: PLC0415 -- lazy: start-up

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- lazy: start-up

    fig, (loss_ax, lr_ax, val_ax) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    offset = 0
    for number, stage in enumerate(stages):
        colour = palette[number % len(palette)]  # one colour per stage in every panel
        iters = [r for r in records if r["event"] == "iter" and r["stage"] == stage]
        epochs = [r for r in records if r["event"] == "epoch" and r["stage"] == stage]
        per_epoch = max([r["iter"] for r in iters] or [1])
        step = lambda r, offset=offset, per_epoch=per_epoch: offset + r["epoch"] * per_epoch + r["iter"]  # noqa: E731
        if iters:
            x, loss = [step(r) for r in iters], [r["loss"] for r in iters]
            loss_ax.plot(x, loss, lw=0.6, alpha=0.35, color=colour)
            loss_ax.plot(x, _smooth(loss, max(1, len(loss) // 20)), color=colour, lw=1.5, label=stage)
        ends = [offset + r["epoch"] * per_epoch for r in epochs]
        if iters and "lr" in iters[0]:  # the schedule as the logged iterations saw it
            lr_ax.plot([step(r) for r in iters], [r["lr"] for r in iters], color=colour, label=stage)
        elif epochs:
            lr_ax.plot(ends, [r["lr"] for r in epochs], marker=".", color=colour, label=stage)
        for key in sorted({k for r in epochs for k in r if k.startswith("val_top1")}):
            val_ax.plot(
                [e for e, r in zip(ends, epochs, strict=True) if key in r],
                [r[key] for r in epochs if key in r],
                marker="o",
                color=colour,
                label=f"{stage} {key}",
            )
        final = next((r for r in records if r["event"] == "stage" and r["stage"] == stage), {})
        if "top1" in final:
            val_ax.scatter(
                [max(ends or [offset])],
                [final["top1"]],
                marker="*",
                s=80,
                zorder=3,
                color=colour,
                label=f"{stage} final top1",
            )
        offset = max(ends + [offset])
        for ax in (loss_ax, lr_ax, val_ax):
            ax.axvline(offset, color="grey", lw=0.5, ls=":")
    loss_ax.set_ylabel("training loss")
    lr_ax.set_ylabel("learning rate")
    val_ax.set_ylabel("top-1 (%)")
    val_ax.set_xlabel("training step (stages one after another; dotted lines: stage ends)")
    for ax in (loss_ax, lr_ax, val_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return True
