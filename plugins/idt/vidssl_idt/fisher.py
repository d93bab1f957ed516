"""Fisher-vector encoding of trajectory descriptors (seed 000's ``compute_fv_models.py`` and
``extract_idt.fisher_vector``) and the standard improved Fisher vector.

A :class:`FisherModel` is a PCA followed by a diagonal GMM, fitted on descriptors sampled from a
set of videos. The descriptor is, as in the seed, columns 10:436 of a trajectory row (trajectory
shape + HOG + HOF + MBHx + MBHy, 426-d) taken as *one* vector; ``blocks`` can instead give each
of the five descriptors its own PCA + GMM, and the vectors are concatenated.

Encodings of ``N`` descriptors ``x_n`` with posteriors ``γ_nk``, ``S0_k = mean_n γ_nk``,
``S1_k = mean_n γ_nk x_n``, ``S2_k = mean_n γ_nk x_n²``:

* ``variant="seed"``: ``[S1 − S0 μ, S0 σ² − S2 − S0 μ² + 2 μ S1]`` without Fisher-information
  scaling (2·K·D values);
* ``variant="improved"``: Perronnin et al.'s ``(S1 − S0 μ)/(√π σ)`` and
  ``(S2 − 2 μ S1 + S0 μ² − S0 σ²)/(√(2π) σ²)``, with ``weights=True`` also ``(S0 − π)/√π``.

Both are power-normalised (signed square root) and L2-normalised; NaN becomes 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from vidssl import DataError
from vidssl_idt.trajectories import COLUMNS

#: the seed's single descriptor, or each of the five descriptors on its own
BLOCKS = {"all": (10, 436), **{name: COLUMNS[name] for name in ("trajectory", "hog", "hof", "mbhx", "mbhy")}}
Variant = Literal["seed", "improved"]


@dataclass
class _BlockModel:
    pca_mean: np.ndarray  # d
    pca_components: np.ndarray  # D×d
    weights: np.ndarray  # K
    means: np.ndarray  # K×D
    variances: np.ndarray  # K×D

    def project(self, x: np.ndarray) -> np.ndarray:
        return (x - self.pca_mean) @ self.pca_components.T

    def posteriors(self, y: np.ndarray) -> np.ndarray:
        """``N×K`` responsibilities of the diagonal GMM for PCA features ``y`` (``N×D``)."""
        log_det = np.log(self.variances).sum(1)
        precision = 1 / self.variances
        quad = (
            (y * y) @ precision.T
            - 2 * y @ (self.means * precision).T
            + (self.means**2 * precision).sum(1)[None]
        )
        log_p = np.log(self.weights)[None] - 0.5 * (quad + log_det[None] + y.shape[1] * np.log(2 * np.pi))
        log_p -= log_p.max(1, keepdims=True)
        p = np.exp(log_p)
        return p / p.sum(1, keepdims=True)


@dataclass
class FisherModel:
    """PCA + diagonal GMM per descriptor block (``"all"`` = the seed's 426-d descriptor)."""

    blocks: dict[str, _BlockModel]

    @property
    def dim(self) -> int:
        """Length of the seed-variant Fisher vector (2·K·D summed over blocks)."""
        return sum(2 * b.means.size for b in self.blocks.values())

    def save(self, path: str | Path) -> None:
        arrays = {
            f"{name}.{field}": getattr(block, field)
            for name, block in self.blocks.items()
            for field in ("pca_mean", "pca_components", "weights", "means", "variances")
        }
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> FisherModel:
        with np.load(path) as data:
            names = sorted({key.split(".")[0] for key in data.files})
            return cls(
                {
                    name: _BlockModel(
                        *(
                            data[f"{name}.{field}"]
                            for field in ("pca_mean", "pca_components", "weights", "means", "variances")
                        )
                    )
                    for name in names
                }
            )


def sample_descriptors(videos: Sequence[np.ndarray], per_video: int = 500, seed: int = 0) -> np.ndarray:
    """The seed's training sample (``compute_fv_models.py``): every row of a video with fewer
    than ``per_video`` trajectories, ``per_video`` rows drawn with replacement from a longer one
    (``n×436`` each), rounded to 3 decimals; videos with NaN or no rows are skipped."""
    rng = np.random.default_rng(seed)
    parts = [
        np.round(v if len(v) < per_video else v[rng.integers(0, len(v), per_video)], 3)
        for v in videos
        if len(v) and not np.isnan(v).any()
    ]
    if not parts:
        raise DataError("no video with trajectories to fit the Fisher-vector model on")
    return np.concatenate(parts)


def fit_fisher_model(
    rows: np.ndarray,
    k: int = 256,
    pca: float | int = 0.9,
    blocks: Sequence[str] = ("all",),
    n_init: int = 2,
    max_iter: int = 200,
    seed: int = 0,
) -> FisherModel:
    """Fit PCA (a float keeps that fraction of the variance, an int that many dimensions) and a
    ``k``-component diagonal GMM on sampled trajectory rows (``n×436``), per block."""
    models = {}
    for name in blocks:
        lo, hi = BLOCKS[name]
        x = rows[:, lo:hi].astype(np.float64)
        reducer = PCA(n_components=pca, random_state=seed).fit(x)
        y = reducer.transform(x)
        gmm = GaussianMixture(
            k, covariance_type="diag", n_init=n_init, max_iter=max_iter, random_state=seed
        ).fit(y)
        models[name] = _BlockModel(
            reducer.mean_, reducer.components_, gmm.weights_, gmm.means_, gmm.covariances_
        )
    return FisherModel(models)


def fisher_vector(
    rows: np.ndarray,
    model: FisherModel,
    variant: Variant = "seed",
    weights: bool = False,
    max_rows: int = 3_000_000,
) -> np.ndarray:
    """Fisher vector (float32, 1-D) of one video's trajectory rows (``n×436``, the first
    ``max_rows`` used), blocks concatenated in the model's order; all zeros without rows."""
    rows = rows[:max_rows]
    parts = []
    for name, block in model.blocks.items():
        lo, hi = BLOCKS[name]
        k, d = block.means.shape
        size = 2 * k * d + (k if weights and variant == "improved" else 0)
        if not len(rows):
            parts.append(np.zeros(size))
            continue
        y = block.project(rows[:, lo:hi].astype(np.float64))
        gamma = block.posteriors(y)
        s0 = gamma.mean(0)[:, None]  # K×1
        s1 = gamma.T @ y / len(y)  # K×D
        s2 = gamma.T @ (y * y) / len(y)
        mu, var = block.means, block.variances
        if variant == "seed":
            g_mu = s1 - s0 * mu
            g_sigma = s0 * var - s2 - s0 * mu**2 + 2 * mu * s1
            vector = [g_mu.ravel(), g_sigma.ravel()]
        else:
            pi = block.weights[:, None]
            g_mu = (s1 - s0 * mu) / (np.sqrt(pi) * np.sqrt(var))
            g_sigma = (s2 - 2 * mu * s1 + s0 * mu**2 - s0 * var) / (np.sqrt(2 * pi) * var)
            vector = ([(s0 - pi).ravel() / np.sqrt(pi.ravel())] if weights else []) + [
                g_mu.ravel(),
                g_sigma.ravel(),
            ]
        parts.append(np.concatenate(vector))
    fv = np.concatenate(parts)
    fv = np.sign(fv) * np.sqrt(np.abs(fv))
    norm = np.linalg.norm(fv)
    fv = fv / norm if norm > 0 else fv
    return np.nan_to_num(fv).astype(np.float32)
