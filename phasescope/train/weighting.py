"""Per-token weights of the expert (SFT) loss, as pure functions of the token log-probabilities.

All weights are detached (stop-gradient): they scale each token's NLL gradient, they are not
optimised themselves. As in the paper, φ is not renormalised, so the SFT term shrinks by mean φ ≤ 1/4.
"""

from __future__ import annotations

import torch


def no_weight(logp: torch.Tensor) -> torch.Tensor:
    """Plain SFT: every expert token weighs 1."""
    return torch.ones_like(logp)


def phi_weight(logp: torch.Tensor) -> torch.Tensor:
    """CHORD-φ: φ = p(1 − p), p = exp(logp); peaks at p = 0.5, vanishes for known and for highly divergent tokens."""
    p = logp.detach().exp()
    return p * (1.0 - p)


def is_weight(logp: torch.Tensor) -> torch.Tensor:
    """IS / DFT: sg(p). The paper's rejected alternative (entropy collapses)."""
    return logp.detach().exp()


WEIGHTINGS = {"none": no_weight, "phi": phi_weight, "is": is_weight}
