"""Extractor ``features``: backbone features of every video of a dataset, as ``vidssl-extract``
writes them and as an ``extract`` stage can.

Writes ``<out>`` (float32 ``[num_videos, feat_dim]``, ``method.embed`` features averaged over each
video's clips and crops, the loop retrieval uses) and ``<out stem>.index.tsv`` (dataset row,
video, label of each feature row) in dataset order; unreadable videos have no row. ``out`` is
relative to the work dir unless absolute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidssl import EvaluationContext


class FeaturesExtractor:
    """Write the features of the stage's ``dataset`` to ``out`` (``.npy``)."""

    def __init__(self, out: str = "features.npy") -> None:
        self.out = out

    def run(self, context: EvaluationContext) -> dict[str, float]:
        features, labels, rows = context.video_features()
        if context.is_main:
            out = Path(context.work_dir) / self.out
            out.parent.mkdir(parents=True, exist_ok=True)
            np.save(out, features)
            dataset = context.dataset
            lines = ["row\tvideo\tlabel"] + [
                f"{row}\t{dataset.video_name(row)}\t{label}" for row, label in zip(rows, labels, strict=True)
            ]
            out.with_suffix(".index.tsv").write_text("\n".join(lines) + "\n")
        return {"videos": float(features.shape[0]), "feat_dim": float(features.shape[1])}
