"""Seed 000's count sketch (``sketching.py``): a fixed random projection of a d-dimensional
Fisher vector to ``dim`` (2000) values, ``sketch = fv · S`` with ``S[i, h(i)] = s(i)``.

``h`` assigns the d inputs to the ``dim`` buckets as evenly as possible (concatenated random
permutations of ``range(dim)``) and ``s`` is a random permutation of a balanced ±1 sequence. The
sketch is computed in float64, returned as float32 and not re-normalised, as in the seed.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from vidssl import ConfigError


class CountSketch:
    """Count-sketch projection ``d → dim`` fixed by ``seed``."""

    def __init__(self, input_dim: int, dim: int = 2000, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        repeats = -(-input_dim // dim)
        self.bucket = np.concatenate([rng.permutation(dim) for _ in range(repeats)])[:input_dim]
        signs = np.resize(np.array([1.0, -1.0]), input_dim)
        self.sign = rng.permutation(signs)
        self.input_dim, self.dim = input_dim, dim
        self.matrix = sparse.csr_matrix(
            (self.sign, (np.arange(input_dim), self.bucket)), shape=(input_dim, dim)
        )

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        """``N×d`` (or ``d``) → ``N×dim`` (or ``dim``) float32."""
        vectors = np.asarray(vectors, np.float64)
        if vectors.shape[-1] != self.input_dim:
            raise ConfigError(f"count sketch built for {self.input_dim}-d vectors, got {vectors.shape[-1]}-d")
        out = np.asarray(vectors.reshape(-1, self.input_dim) @ self.matrix)
        return out.reshape(*vectors.shape[:-1], self.dim).astype(np.float32)
