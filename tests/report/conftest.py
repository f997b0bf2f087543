"""A synthetic experiment directory in the run-directory contract, for compare/report/W&B tests.

Held-out accuracy follows ``phasescope.analysis.synthetic`` planted curves, so phases exist where
they are planted: sft shift→readapt→overfit, sft_then_rl shift→readapt then RL, rl a slow rise,
chord_mu shift→readapt, chord_phi a clear rise that ends highest (the known better arm). Train rows
every step carry the loss, μ and expert-token statistics; eval rows every ``eval_every`` steps.
``with_probes`` adds ``probe/*`` metrics and a ``tokens.jsonl`` per run (the newer contract); without
it, the report must skip those figures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ARMS = ("sft", "rl", "sft_then_rl", "chord_mu", "chord_phi")
# The figures of a report on this experiment without probes; with probes it adds the token heat map.
FIGURES = {"heldout", "timeline", "matched", "endpoints", "mu", "rollout", "losses", "divergence", "general"}
FIGURES |= {"phases_eval-accuracy", "phases_eval-expert_nll", "phases_eval-general_accuracy"}
# variant, planted-curve overrides, μ(step) as a function of the fraction of training done
_PLAN = {
    "sft": ("full", {}, lambda f: 1.0),
    "rl": ("rise_only", {"gain": 0.05}, lambda f: 0.0),
    "sft_then_rl": ("full", {"drop": 0.05}, lambda f: 1.0 if f < 0.5 else 0.0),
    "chord_mu": ("no_overfit", {"gain": 0.15}, lambda f: 0.9 * 0.5 * (1 + np.cos(np.pi * min(f / 0.5, 1)))),
    "chord_phi": ("rise_only", {"gain": 0.3}, lambda f: 0.1),
}
# How fast each arm makes the expert's tokens probable (exp rate per unit of training fraction).
_RATE = {"sft": 6.0, "rl": 0.3, "sft_then_rl": 5.0, "chord_mu": 3.0, "chord_phi": 1.5}
# The probe's bins (phasescope.train.probes.HIST_P_EDGES), copied so the fixture needs no torch.
HIST_P_EDGES = (1e-6, 1e-4, 1e-3, 0.01, 0.03, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97, 0.99, 1.0)
HIST_EDGES = [float(np.log(p)) for p in HIST_P_EDGES]


def make_experiment(
    root: Path,
    *,
    name: str = "toy",
    arms=ARMS,
    seeds: int = 3,
    steps: int = 200,
    eval_every: int = 10,
    noise: float = 0.02,
    with_probes: bool = True,
    n_eval: int = 256,
) -> Path:
    """Write ``root/name`` (experiment.json + <arm>/seed<k>/metrics.jsonl [+ tokens.jsonl])."""
    exp = Path(root) / name
    exp.mkdir(parents=True, exist_ok=True)
    meta = {
        "name": name,
        "config": {
            "experiment": {"name": name, "arms": list(arms), "seeds": seeds, "wandb": "off"},
            "world": {"n_eval": n_eval, "digits": 2},
            "model": {"name_or_path": ""},
            "train": {"steps": steps, "eval_every": eval_every, "lr": 1e-3},
        },
        "seeds": list(range(seeds)),
        "versions": {"python": "3.11", "phasescope": "0.1.0"},
        "git_commit": "deadbeef",
        "started": "2026-01-01T00:00:00+00:00",
    }
    (exp / "experiment.json").write_text(json.dumps(meta, indent=2))
    from phasescope.analysis.synthetic import planted_curve

    for ai, arm in enumerate(arms):
        variant, kw, mu_of = _PLAN[arm]
        k = _RATE[arm]
        params = {
            "n_points": steps // eval_every + 1,
            "span": float(steps),
            "initial": 0.45,
            "depth": 0.2,
            "shift_frac": 0.1,
            "readapt_frac": 0.4,
            "gain": 0.25,
            "drop": 0.12,
            "noise": noise,
            "n_seeds": max(seeds, 2),
            "rng": 100 + ai,
            **kw,
        }
        curve = planted_curve(variant, **params)
        general = planted_curve("full" if mu_of(0.0) > 0.5 else "flat", **{**params, "rng": 200 + ai})
        for seed in range(seeds):
            run = exp / arm / f"seed{seed}"
            run.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(1000 * ai + seed)
            acc = dict(zip(curve.steps.astype(int).tolist(), np.clip(curve.values[seed], 0, 1)))
            gen = dict(zip(general.steps.astype(int).tolist(), np.clip(general.values[seed], 0, 1)))
            rows, tokens = [], []
            for step in range(steps + 1):
                f = step / steps
                mu = float(mu_of(f))
                stage = "sft" if mu == 1.0 else ("rl" if mu == 0.0 else "mixed")
                row = {"step": step, "stage": stage}
                if step > 0:
                    sft_loss = 2.0 * np.exp(-3 * f) + 0.2 + 0.05 * rng.normal()
                    grpo = 0.02 * rng.normal()
                    q50 = 0.2 + 0.7 * (1 - np.exp(-k * f))
                    row.update(
                        {
                            "train/mu": mu,
                            "train/sft_loss": float(sft_loss),
                            "train/grpo_loss": float(grpo),
                            "train/loss": float(mu * sft_loss + (1 - mu) * grpo),
                            "train/lr": 1e-3,
                            "expert/p_q10": float(q50 * 0.2),
                            "expert/p_q50": float(q50),
                            "expert/p_q90": float(min(1.0, q50 * 1.1)),
                            "expert/divergent_frac": float(0.6 * np.exp(-k * f)),
                            "expert/nll": float(sft_loss),
                        }
                    )
                    if mu < 1.0:
                        row["rollout/reward_mean"] = float(acc.get(step, 0.5))
                if step in acc:
                    row.update(
                        {
                            "eval/accuracy": float(acc[step]),
                            "eval/general_accuracy": float(gen[step]),
                            "eval/expert_nll": float(1.5 - f + 0.8 * f * f),
                        }
                    )
                    if with_probes:
                        row["probe/kl_to_base"] = float(mu_of(f) * 2 * f + 0.1 * f)
                        row["probe/p_q10"] = float(0.05 + 0.3 * (1 - np.exp(-k * f)))
                        row["probe/divergent_frac"] = float(0.6 * np.exp(-k * f))
                        # Mass moves from the divergent bins (low p) to p near 1 as the arm learns.
                        centre = 1.0 + 13.0 * (1 - np.exp(-k * f))
                        counts = np.round(1000 * np.exp(-0.5 * ((np.arange(16) - centre) / 2.5) ** 2)).astype(
                            int
                        )
                        tokens.append(
                            {
                                "step": step,
                                "hist_edges": HIST_EDGES,
                                "hist_counts": counts.tolist(),
                                "top_divergent": [
                                    {"token": "|", "context": "12+34=", "p": 0.001 * (1 + 10 * f)},
                                    {"token": "<&>", "context": "4+0=04", "p": 0.01 * (1 + 10 * f)},
                                ],
                            }
                        )
                rows.append(row)
            with open(run / "metrics.jsonl", "w") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in rows)
            if with_probes:
                with open(run / "tokens.jsonl", "w") as fh:
                    fh.writelines(json.dumps(t) + "\n" for t in tokens)
    return exp


@pytest.fixture(scope="session")
def toy_exp(tmp_path_factory) -> Path:
    """Five arms × three seeds, with probes and tokens.jsonl. Shared: tests must not write into it
    except under analysis/ subfolders they name themselves."""
    return make_experiment(tmp_path_factory.mktemp("exp"))


@pytest.fixture(scope="session")
def toy_exp_plain(tmp_path_factory) -> Path:
    """Three arms, two seeds, no probe metrics, no tokens.jsonl (the contract before probes existed)."""
    return make_experiment(
        tmp_path_factory.mktemp("plain"), arms=("sft", "sft_then_rl", "chord_phi"), seeds=2, with_probes=False
    )


def one_line_error(proc, codes=(1, 2)) -> str:
    assert proc.returncode in codes, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]
