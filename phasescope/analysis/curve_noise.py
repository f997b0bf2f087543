"""How the benchmark families of ``curve_families`` turn a clean trajectory into logged values.

- ``fixed_eval_set``: the same ``n`` problems scored at every evaluation. Problem i has a
  difficulty b_i ~ N(0, 1.5²) and is solved with probability p_i(t) = σ(θ(t) − b_i). Whether it is
  solved at evaluation k is 1[Φ(z_ik) < p_i(t_k)], where z_i is a standard-normal AR(1) series
  over the evaluations with correlation ``rho``: each problem's luck persists from one evaluation
  to the next, so consecutive accuracies are correlated as in real evals, while each evaluation's
  marginal is exactly binomial-like (variance Σ p_i(1 − p_i) / n²). The lower-is-better copy is the
  mean negative log-likelihood of the right answer, −log σ(θ(t) − b_i + s·z_ik), on the same
  problems with the same persistent latent noise; its clean curve is E_z of that (Gauss–Hermite).
- ``rollout_rewards``: one value per optimiser step, the mean reward of a group of ``group``
  rollouts: Bernoulli(p(t)) rewards, or graded ones (Beta with mean p(t) and concentration ``c``).
- ``heavy_tailed``: Student-t noise of a given standard deviation, plus one-step spikes.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, ndtr

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(16)
_GH_W = _GH_W / _GH_W.sum()


def ar1_normal(n_series: int, n_steps: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    """``n_series`` standard-normal AR(1) series of length ``n_steps`` (lag-1 correlation ``rho``)."""
    z = np.empty((n_series, n_steps))
    z[:, 0] = rng.standard_normal(n_series)
    innov = rng.standard_normal((n_series, n_steps)) * np.sqrt(1 - rho**2)
    for k in range(1, n_steps):
        z[:, k] = rho * z[:, k - 1] + innov[:, k]
    return z


def fixed_eval_set(
    theta: np.ndarray, n: int, rho: float, lower: bool, rng: np.random.Generator, spread: float = 1.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """(values, clean, noise sd) of ``n`` problems scored at each ability in ``theta``: accuracy,
    or (``lower``) the mean NLL with per-problem latent noise of ``spread`` logits."""
    b = rng.normal(0.0, 1.5, n)
    z = ar1_normal(n, len(theta), rho, rng)
    logit = theta[None, :] - b[:, None]
    if not lower:
        p = expit(logit)
        values = (ndtr(z) < p).mean(axis=0)
        clean = p.mean(axis=0)
        noise = float(np.sqrt(np.mean((p * (1 - p)).sum(axis=0)) / n**2))
        return values, clean, noise
    values = np.logaddexp(0.0, -(logit + spread * z)).mean(axis=0)
    nodes = np.logaddexp(0.0, -(logit[..., None] + spread * _GH_X))  # problems x evals x nodes
    mean_i = nodes @ _GH_W
    var_i = (nodes**2) @ _GH_W - mean_i**2
    noise = float(np.sqrt(np.mean(var_i.sum(axis=0)) / n**2))
    return values, mean_i.mean(axis=0), noise


def rollout_rewards(
    p: np.ndarray, group: int, graded: float | None, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """(values, noise sd): per step, the mean of ``group`` rewards with mean ``p`` (Bernoulli, or
    Beta with concentration ``graded``)."""
    p = np.clip(p, 0.01, 0.99)
    if graded is None:
        values = rng.binomial(group, p) / group
        var = p * (1 - p) / group
    else:
        r = rng.beta(p[:, None] * graded, (1 - p[:, None]) * graded, size=(len(p), group))
        values = r.mean(axis=1)
        var = p * (1 - p) / (graded + 1) / group
    return values, float(np.sqrt(np.mean(var)))


def heavy_tailed(n: int, sd: float, df: float, n_spikes: int, rng: np.random.Generator) -> np.ndarray:
    """Student-t noise (``df`` > 2) of standard deviation ``sd``, with ``n_spikes`` one-step spikes
    of 4-8 sd at inner points."""
    e = rng.standard_t(df, n) * sd * np.sqrt((df - 2) / df)
    if n_spikes and n > 4:
        at = rng.choice(np.arange(1, n - 1), size=min(n_spikes, n - 2), replace=False)
        e[at] += rng.choice([-1.0, 1.0], len(at)) * rng.uniform(4, 8, len(at)) * sd
    return e
