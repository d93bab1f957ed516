"""Hook ``metrics_plot``: at the end of a run, ``loss_curves.png`` in the work dir with the
training losses of every stage against iterations (from ``metrics.jsonl``; rank 0)."""
from __future__ import annotations

import json
from pathlib import Path

from vidssl import hookimpl


class MetricsPlot:
    def __init__(self, filename: str = "loss_curves.png") -> None:
        self.filename = filename

    @hookimpl
    def vidssl_run_end(self, runner) -> None:
        log = Path(runner.work_dir) / "metrics.jsonl"
        if not runner.is_main or not log.is_file():
            return
        curves: dict[str, list[float]] = {}
        for line in log.read_text().splitlines():
            record = json.loads(line)
            if record["event"] == "iter":
                curves.setdefault(record["stage"], []).append(record["loss"])
        if not curves:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(curves), figsize=(3.2 * len(curves), 3), squeeze=False)
        for ax, (stage, losses) in zip(axes[0], curves.items()):
            ax.plot(losses, lw=1)
            ax.set_title(stage)
            ax.set_xlabel(f"logged iteration (every {runner.cfg['log']['interval']})")
        axes[0][0].set_ylabel("loss")
        fig.tight_layout()
        fig.savefig(Path(runner.work_dir) / self.filename, dpi=100)
        plt.close(fig)
