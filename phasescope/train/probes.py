"""Token-divergence probes: how foreign the expert tokens look to the current policy, step by step.

Two sources, one set of statistics (`expert_token_stats`):
- per training step, `expert/*` from the expert rows the trainer already scores for the SFT term
  (no extra forward pass; absent at steps with μ = 0, where no expert row is scored);
- at every evaluation, `probe/*` from a *fixed probe set* of expert examples (`TokenProbe`), the same
  for every arm and seed of an experiment, so curves are comparable even for arms that never see
  expert data (pure RL). The probe adds `probe/kl_to_base` and writes one `tokens.jsonl` record per
  evaluation: a histogram of expert-token log-probabilities over fixed bins, the K most divergent
  expert tokens with their context, the mean p per token class, and (for small probe sets) p of
  every probe token, so the reader can say which tokens moved most between two steps.

p is the policy's probability of the expert's next token under teacher forcing, π(y*_t | x, y*_<t).
KL direction: `probe/kl_to_base` is KL(π_θ ‖ π_base) = Σ_v π_θ(v) (log π_θ(v) − log π_base(v)) at each
expert position, averaged over the probe's expert tokens — the direction RL monitors against its
reference (the policy's own mass decides where a difference counts). The base distributions are the
policy's at step 0 (the policy *is* the base then), cached once at the masked positions only, so no
second model is held in memory; with a large vocabulary and long responses, a fixed, evenly spaced
subset of the positions (at most `MAX_BASE_FLOATS` cached floats) carries the KL, and the forward pass
runs in row chunks of bounded size. The probe reads the model's own distribution (temperature 1), while
the per-step `expert/*` come through TRL's LM head, which divides by the rollout temperature; the two
agree at the shipped temperature 1.0.

The maths are pure functions on tensors (unit-tested on hand-made logits); `TokenProbe` only
batches, caches and formats.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Any

import torch

from phasescope.lm import completion_logits, encode_pairs

QUANTILES = (0.1, 0.5, 0.9)

# Fixed histogram bins over log p (natural log), with edges at round probabilities so that a bin reads
# "p between 0.03 and 0.1"; fixed across steps, arms and runs so that histograms can be subtracted.
# The first bin also holds every token below its lower edge (p < 1e-6).
HIST_P_EDGES = (1e-6, 1e-4, 1e-3, 0.01, 0.03, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97, 0.99, 1.0)
HIST_EDGES = tuple(math.log(p) for p in HIST_P_EDGES)

CONTEXT_CHARS = 12  # characters of prompt + response prefix shown before a divergent token
MAX_LOGGED_TOKENS = 4096  # p of every probe token is written only up to this many tokens per record
MAX_CLASSES = 24  # token classes reported per record (the most frequent), bounded for real vocabularies
MAX_CHUNK_FLOATS = 2**26  # logits per probe forward chunk (256 MB in fp32)
MAX_BASE_FLOATS = 2**26  # cached base log-probabilities for probe/kl_to_base (256 MB in fp32)


# --- per-token statistics (pure) ---------------------------------------------------------------------


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
    qs = torch.quantile(p, torch.tensor(QUANTILES, dtype=p.dtype, device=p.device))
    for q, v in zip(QUANTILES, qs.tolist()):
        out[f"{prefix}/p_q{round(q * 100)}"] = v
    if entropy is not None:
        out[f"{prefix}/entropy"] = float(entropy.detach()[sel].float().mean())
    return out


def entropy_from_logp(logp_full: torch.Tensor) -> torch.Tensor:
    """Entropy −Σ_v p(v) log p(v) of each distribution, (..., V) → (...)."""
    # xlogy-style: a zero-probability entry contributes 0, not 0 · (−inf) = NaN.
    p = logp_full.exp()
    return -torch.where(p > 0, p * logp_full, torch.zeros_like(p)).sum(-1)


def token_kl(logp_full: torch.Tensor, base_logp_full: torch.Tensor) -> torch.Tensor:
    """KL(π ‖ π_base) per position, Σ_v π(v) (log π(v) − log π_base(v)); (..., V) → (...)."""
    p = logp_full.exp()
    terms = torch.where(p > 0, p * (logp_full - base_logp_full), torch.zeros_like(p))
    # A negative total is floating-point noise around 0 (KL ≥ 0).
    return terms.sum(-1).clamp(min=0.0)


def logp_histogram(logp: torch.Tensor, mask: torch.Tensor, edges=HIST_EDGES) -> list[int]:
    """Counts of masked log p in the bins [edges[i], edges[i+1]); len(edges) − 1 counts.

    Values below edges[0] fall in the first bin and values ≥ edges[-1] in the last, so the counts
    always sum to the number of masked tokens.
    """
    lp = logp.detach()[mask.bool()].float().cpu()
    inner = torch.tensor(edges[1:-1], dtype=lp.dtype)
    idx = torch.bucketize(lp, inner, right=True)
    return torch.bincount(idx, minlength=len(edges) - 1).tolist()


def most_divergent(logp: torch.Tensor, mask: torch.Tensor, k: int) -> list[tuple[int, int, float]]:
    """The k masked positions with the lowest p, as (row, position, p), lowest p first.

    Ties are broken by (row, position), so the choice is deterministic.
    """
    if k <= 0:
        return []
    lp = logp.detach().float().cpu()
    sel = mask.bool().cpu()
    rows, cols = sel.nonzero(as_tuple=True)
    vals = lp[rows, cols]
    # Stable sort on log p keeps the (row, position) order of nonzero() among equal values.
    order = torch.sort(vals, stable=True).indices[:k]
    return [(int(rows[i]), int(cols[i]), math.exp(float(vals[i]))) for i in order]


def token_class(token: str) -> str:
    """The class a token is reported under: all-digit tokens pool as "digit", others are themselves."""
    text = token.strip()
    return "digit" if text.isdigit() else token


def class_mean_p(
    logp: torch.Tensor, mask: torch.Tensor, class_ids: torch.Tensor, names: list[str]
) -> dict[str, tuple[float, int]]:
    """Mean p and count per token class over the masked tokens; `class_ids` (B, T) index `names`.

    Classes with no masked token are left out.
    """
    sel = mask.bool().cpu()
    p = logp.detach().float().cpu()[sel].exp()
    ids = class_ids.cpu()[sel]
    n = torch.bincount(ids, minlength=len(names))
    s = torch.bincount(ids, weights=p.double(), minlength=len(names))
    return {names[i]: (float(s[i] / n[i]), int(n[i])) for i in range(len(names)) if n[i] > 0}


def select_probe(n_available: int, size: int, seed: int) -> list[int]:
    """Indices of the probe examples: `size` of `n_available`, drawn from `seed` alone (sorted).

    Called with the *world's* seed, so every arm and seed of an experiment probes the same examples.
    """
    rng = random.Random(f"phasescope-probe-{seed}")  # its own stream: never shifts other draws
    return sorted(rng.sample(range(n_available), min(size, n_available)))


def _sig(x: float, digits: int = 4) -> float:
    """x rounded to `digits` significant digits: keeps tiny p readable in JSON and lines short."""
    return float(f"{x:.{digits}g}")


# --- the fixed probe set -----------------------------------------------------------------------------


class TokenProbe:
    """A fixed set of expert (prompt, response) pairs, scored by the policy in one batched forward pass.

    `probe(model, step)` returns (`probe/*` metrics, a tokens.jsonl record). The first call at step 0
    caches the base distributions for `probe/kl_to_base` (or call `cache_base(base_model)`); until
    they exist the KL is absent, never NaN.
    """

    def __init__(
        self,
        tokenizer,
        prompts: list[str],
        responses: list[str],
        top_k: int = 10,
        divergent_threshold: float = 0.1,
        example_ids: list[int] | None = None,
        edges=HIST_EDGES,
    ):
        if not prompts:
            raise ValueError("the probe set is empty")
        self.batch = encode_pairs(tokenizer, prompts, responses)
        self.mask = self.batch["completion_mask"].bool()
        self.prompts = list(prompts)
        self.tokens = [
            tokenizer.convert_ids_to_tokens(ids[: int(m.sum())])
            for ids, m in zip(self.batch["completion_ids"].tolist(), self.mask)
        ]
        self.example_ids = list(example_ids) if example_ids is not None else list(range(len(prompts)))
        self.top_k = top_k
        self.divergent_threshold = divergent_threshold
        self.edges = tuple(edges)
        self.n_tokens = int(self.mask.sum())
        classes = [[token_class(t) for t in row] for row in self.tokens]
        counts: dict[str, int] = {}
        for row in classes:
            for c in row:
                counts[c] = counts.get(c, 0) + 1
        # The most frequent classes keep their name; the rest pool as "other" (bounded output).
        kept = sorted(counts, key=lambda c: (-counts[c], c))[:MAX_CLASSES]
        self.class_names = [*sorted(kept), "other"]
        index = {c: i for i, c in enumerate(self.class_names)}
        self.class_ids = torch.full(self.mask.shape, len(self.class_names) - 1, dtype=torch.long)
        for i, row in enumerate(classes):
            for j, c in enumerate(row):
                self.class_ids[i, j] = index.get(c, len(self.class_names) - 1)
        self.base_logp: torch.Tensor | None = None  # (n, V): base log-softmax at the KL positions
        self._kl_mask: tuple[int, torch.Tensor] | None = None
        self.header_written = False
        self._device_batch: tuple[torch.device, dict[str, torch.Tensor]] | None = None

    def _batch_on(self, device: torch.device) -> dict[str, torch.Tensor]:
        if self._device_batch is None or self._device_batch[0] != device:
            self._device_batch = (device, {k: v.to(device) for k, v in self.batch.items()})
        return self._device_batch[1]

    def _kl_positions(self, vocab: int) -> torch.Tensor:
        """Mask (B, T) of the positions whose full distributions are cached for the KL.

        Every expert position while n_tokens × vocab fits `MAX_BASE_FLOATS` (always, in the embedded
        world); otherwise an evenly spaced, fixed subset of them, so a real vocabulary (~150k) and long
        responses never hold gigabytes: the KL is then the mean over that subset.
        """
        if self._kl_mask is None or self._kl_mask[0] != vocab:
            keep = max(1, MAX_BASE_FLOATS // vocab)
            if self.n_tokens <= keep:
                m = self.mask.clone()
            else:
                flat = self.mask.flatten().nonzero().squeeze(1)
                pick = flat[torch.linspace(0, len(flat) - 1, keep).round().long().unique()]
                m = torch.zeros(self.mask.numel(), dtype=torch.bool)
                m[pick] = True
                m = m.view_as(self.mask)
            self._kl_mask = (vocab, m)
        return self._kl_mask[1]

    @torch.no_grad()
    def _forward(self, model) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """log p of each expert token (B, T), entropy (B, T), full log-softmax at the KL positions (n, V).

        Rows go through the model in chunks of at most `MAX_CHUNK_FLOATS` logits, so memory is bounded
        for real vocabularies; the embedded world's probe is one chunk (one forward pass).
        """
        device = next(model.parameters()).device
        batch = self._batch_on(device)
        # The config's vocabulary (the logits' width); the head's weight may be sharded (ZeRO-3) to size 0.
        vocab = getattr(getattr(model, "config", None), "vocab_size", None)
        vocab = vocab or model.get_output_embeddings().weight.shape[0]
        n_rows, width = batch["prompt_ids"].size(0), batch["prompt_ids"].size(1) + self.mask.size(1)
        rows = max(1, MAX_CHUNK_FLOATS // (width * vocab))
        kl_mask = self._kl_positions(vocab).to(device)
        logps, ents, sels = [], [], []
        for a in range(0, n_rows, rows):
            sub = {k: v[a : a + rows] for k, v in batch.items()}
            logp_full = torch.log_softmax(completion_logits(model, sub).float(), dim=-1)
            logps.append(logp_full.gather(-1, sub["completion_ids"].unsqueeze(-1)).squeeze(-1))
            ents.append(entropy_from_logp(logp_full))
            sels.append(logp_full[kl_mask[a : a + rows]])
        return torch.cat(logps), torch.cat(ents), torch.cat(sels)

    def cache_base(self, model) -> None:
        """Cache the base model's distributions at the probe's expert positions (once per run)."""
        self.base_logp = self._forward(model)[2].clone()

    def __call__(self, model, step: int) -> tuple[dict[str, float], dict[str, Any]]:
        logp, ent, sel = self._forward(model)
        if self.base_logp is None and step == 0:
            self.base_logp = sel.clone()
        metrics = expert_token_stats(logp, self.mask.to(logp.device), ent, self.divergent_threshold, "probe")
        if self.base_logp is not None:
            metrics["probe/kl_to_base"] = float(token_kl(sel, self.base_logp).mean())
        return metrics, self.record(step, logp.cpu())

    def record(self, step: int, logp: torch.Tensor) -> dict[str, Any]:
        """The tokens.jsonl record of one evaluation (JSON-ready)."""
        top = []
        for row, pos, p in most_divergent(logp, self.mask, self.top_k):
            context = (self.prompts[row] + "".join(self.tokens[row][:pos]))[-CONTEXT_CHARS:]
            top.append(
                {
                    "example": row,
                    "position": pos,
                    "token": self.tokens[row][pos],
                    "context": context,
                    "p": _sig(p),
                }
            )
        classes = class_mean_p(logp, self.mask, self.class_ids, self.class_names)
        first = logp[:, 0][self.mask[:, 0]].exp()
        rec: dict[str, Any] = {
            "step": step,
            "n_tokens": self.n_tokens,
            "divergent_threshold": self.divergent_threshold,
            "hist_edges": [round(e, 6) for e in self.edges],
            "hist_counts": logp_histogram(logp, self.mask, self.edges),
            "top_divergent": top,
            "class_p": {c: _sig(m) for c, (m, _) in classes.items()},
            "class_n": {c: n for c, (_, n) in classes.items()},
            "first_p": _sig(float(first.mean())),
        }
        if self.n_tokens <= MAX_LOGGED_TOKENS:
            p = logp.exp()
            rec["token_p"] = [[_sig(float(v)) for v in p[i, : len(t)]] for i, t in enumerate(self.tokens)]
            if not self.header_written:
                # The probe's text once per file (per process): the reader carries it forward.
                rec["probe"] = {
                    "example_ids": self.example_ids,
                    "prompts": self.prompts,
                    "tokens": self.tokens,
                    "context_chars": CONTEXT_CHARS,
                }
                self.header_written = True
        return rec


def probe_from_expert(
    tokenizer,
    prompts: list[str],
    responses: list[str],
    size: int,
    world_seed: int,
    top_k: int = 10,
    divergent_threshold: float = 0.1,
) -> TokenProbe:
    """The experiment's probe: `size` expert pairs chosen by the world's seed (same for all arms/seeds)."""
    idx = select_probe(len(prompts), size, world_seed)
    return TokenProbe(
        tokenizer,
        [prompts[i] for i in idx],
        [responses[i] for i in idx],
        top_k=top_k,
        divergent_threshold=divergent_threshold,
        example_ids=idx,
    )


def with_probe(
    evaluate: Callable[[torch.nn.Module, int], dict[str, float]],
    probe: TokenProbe,
    write: Callable[[dict[str, Any]], None],
    stage_of: Callable[[int], str] | None = None,
) -> Callable[[torch.nn.Module, int], dict[str, float]]:
    """`evaluate` followed by the probe: its metrics join the eval row, its record goes to `write`."""

    def run(model, step: int) -> dict[str, float]:
        out = evaluate(model, step)
        t0 = time.perf_counter()
        metrics, rec = probe(model, step)
        out.update(metrics)
        out["time/probe_s"] = time.perf_counter() - t0
        head = {"step": step} if stage_of is None else {"step": step, "stage": stage_of(step)}
        write({**head, **rec})
        return out

    return run
