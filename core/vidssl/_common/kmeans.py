"""k-means over features, a service of the core (the local-aggregation method and the IDT
clustering both use it): faiss, on the GPU when faiss sees one, else on the CPU.

``num_c`` independent runs with seeds ``seed, seed + 1, …``, ``iterations`` iterations, no
sub-sampling, exact L2 assignment (seed 000's ``cluster_fv.py`` and LA's ``Kmeans``). faiss comes
with the extra ``vidssl[faiss]`` (``faiss-cpu``) or, instead of it, ``vidssl[faiss-gpu]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vidssl._common.errors import ConfigError


def kmeans_labels(
    features: np.ndarray,
    k: int,
    num_c: int = 3,
    iterations: int = 20,
    seed: int = 1234,
    gpu: bool | None = None,
) -> np.ndarray:
    """Cluster ``N×d`` features ``num_c`` times into ``k`` clusters → int64 labels
    ``[num_c, N]``, rows in the order of the input. ``gpu=None`` uses a GPU when faiss sees one."""
    try:
        import faiss  # noqa: PLC0415 -- lazy: optional dependency
    except ImportError:
        raise ConfigError(
            "k-means needs faiss: pip install 'vidssl[faiss]' (or 'vidssl[faiss-gpu]' on a CUDA machine)"
        ) from None
    x = np.ascontiguousarray(features, dtype=np.float32)
    n, d = x.shape
    if not 1 <= k <= n:
        raise ConfigError(f"k-means needs 1 ≤ k ≤ N, got k={k} for N={n} points")
    use_gpu = faiss.get_num_gpus() > 0 if gpu is None else gpu
    if use_gpu and faiss.get_num_gpus() == 0:
        raise ConfigError(
            "k-means on the GPU was asked for, but faiss sees no GPU (faiss-cpu installed, or no CUDA device)"
        )
    labels = np.empty((num_c, n), np.int64)
    for run in range(num_c):
        clustering = faiss.Clustering(d, k)
        clustering.niter = iterations
        clustering.seed = seed + run
        clustering.max_points_per_centroid = 10_000_000
        if use_gpu:
            config = faiss.GpuIndexFlatConfig()
            config.useFloat16 = False
            index: Any = faiss.GpuIndexFlatL2(faiss.StandardGpuResources(), d, config)
        else:
            index = faiss.IndexFlatL2(d)
        clustering.train(x, index)
        _, assignment = index.search(x, 1)
        labels[run] = assignment[:, 0]
    return labels
