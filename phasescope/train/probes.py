"""Token-divergence statistics: how foreign the expert tokens look to the current policy.

Pure functions on the per-token log-probabilities (and entropies) the trainer already computes for
the expert rows, so the per-step `expert/*` metrics cost no extra forward pass.
"""

from __future__ import annotations

import torch

QUANTILES = (0.1, 0.5, 0.9)


def expert_token_stats(
    logp: torch.Tensor,
    mask: torch.Tensor,
    entropy: torch.Tensor | None = None,
    divergent_threshold: float = 0.1,
    prefix: str = "expert",
) -> dict[str, float]:
    """Summaries of p = exp(logp) over the masked expert tokens.

    nll: mean −log p; p_mean, p_q10/q50/q90: the distribution of p (linear-interpolated quantiles,
    as `torch.quantile`); divergent_frac: share of tokens with p < threshold; phi_mean: mean p(1−p),
    whether or not φ weights the loss; entropy: mean policy entropy at the expert positions.
    An empty mask gives an empty dict (absent, never NaN).
    """
    sel = mask.bool()
    lp = logp.detach()[sel].float()
    if lp.numel() == 0:
        return {}
    p = lp.exp()
    out = {
        f"{prefix}/nll": float(-lp.mean()),
        f"{prefix}/p_mean": float(p.mean()),
        f"{prefix}/divergent_frac": float((p < divergent_threshold).float().mean()),
        f"{prefix}/phi_mean": float((p * (1 - p)).mean()),
    }
    qs = torch.quantile(p, torch.tensor(QUANTILES, dtype=p.dtype))
    for q, v in zip(QUANTILES, qs.tolist()):
        out[f"{prefix}/p_q{round(q * 100)}"] = v
    if entropy is not None:
        out[f"{prefix}/entropy"] = float(entropy.detach()[sel].float().mean())
    return out
