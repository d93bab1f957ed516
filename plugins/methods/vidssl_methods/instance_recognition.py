"""Instance recognition (Wu et al. 2018) as seed 000 trains it before local aggregation.

Every video is its own class, represented by its row of a :class:`MemoryBank`. For an embedding
``v_i`` (backbone → linear 512→128 → L2 norm) the NCE loss against ``k = 4096`` rows drawn
uniformly (possibly the positive) is

    P(j) = exp(v_i·V_j / τ) / Z,   p_b = 1/N,
    L = −mean_i [ log P(i)/(P(i) + k·p_b + ε) + Σ_noise log k·p_b/(P(j) + k·p_b + ε) ]

with τ = 0.07 and the seed's fixed ``Z = 2,876,934.2``; ``z=None`` estimates Z once, on the
first batch, as ``N · mean exp(v·V_noise/τ)`` (Wu et al.) and keeps it in the checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch

from vidssl import distributed
from vidssl_methods.embedding import EmbeddingMethod

SEED_Z = 2_876_934.2


def nce_loss(
    positive: torch.Tensor, noise: torch.Tensor, n_data: int, z: float, temperature: float, eps: float = 1e-7
) -> torch.Tensor:
    """NCE loss from similarities ``positive`` (``B``) and ``noise`` (``B×k``) to bank rows."""
    k = noise.shape[1]
    noise_prior = k / n_data
    p_pos = torch.exp(positive / temperature) / z
    p_noise = torch.exp(noise / temperature) / z
    data_term = torch.log(p_pos / (p_pos + noise_prior + eps))
    noise_term = torch.log(noise_prior / (p_noise + noise_prior + eps)).sum(1)
    return -(data_term + noise_term).mean()


class InstanceRecognition(EmbeddingMethod):
    """IR with NCE over ``num_noise`` uniformly drawn bank rows (seed 000, stage 1)."""

    def __init__(
        self,
        backbone: torch.nn.Module,
        dim: int = 128,
        num_noise: int = 4096,
        temperature: float = 0.07,
        momentum: float = 0.5,
        z: float | None = SEED_Z,
    ) -> None:
        super().__init__(backbone, dim, momentum, temperature)
        self.num_noise = num_noise
        self.register_buffer("z", torch.tensor(-1.0 if z is None else float(z)))

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v, indices = self.embed_batch(batch)
        similarity = v @ self.bank.memory.t()  # B×N
        noise_rows = torch.randint(len(self.bank), (v.shape[0], self.num_noise), device=v.device)
        positive = similarity.gather(1, indices[:, None])[:, 0]
        noise = similarity.gather(1, noise_rows)
        if self.z < 0:  # estimate once (z=None), the same on every rank
            estimate = torch.exp(noise.detach() / self.temperature).mean() * len(self.bank)
            self.z.fill_(float(distributed.all_gather(estimate.reshape(1)).mean()))
        loss = nce_loss(positive, noise, len(self.bank), float(self.z), self.temperature)
        self.bank.update(indices, v, self.momentum)
        return {"loss": loss}
