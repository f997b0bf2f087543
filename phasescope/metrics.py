"""The metric registry: every key a phasescope run logs, with a one-line definition.

One entry per key of a `metrics.jsonl` row (and of the phase rows `PhaseCallback` adds to a trainer's
logs, and of the summary of the W&B analysis run). A name with `<placeholders>` is a pattern:
`eval/<set>_accuracy` stands for `eval/gsm8k_accuracy`, `eval/math500_accuracy`, ...
`docs/metrics.md` is generated from this table (`python -m phasescope.docgen`), and a test fails when a
run logs a key that `describe_metric` does not know. A new logged key is one `Metric` line here.

A leaf: imports nothing from phasescope, so any layer (and the docs generator) may read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Metric:
    """One logged key (or a pattern of keys) and what it means."""

    name: str
    """The key, or a pattern whose `<placeholders>` stand for a name part (see `PLACEHOLDERS`)."""
    definition: str
    """One line: what it measures, its unit or formula where it matters, and when it is absent."""


@dataclass(frozen=True)
class Group:
    """The keys under one prefix, with a few words on where they come from."""

    prefix: str
    title: str
    about: str
    metrics: tuple[Metric, ...]


PHASE_LABELS = ("shift", "readapt", "improve", "overfit")
"""The phase labels the online detector confirms (`phase/<label>_*`)."""

PLACEHOLDERS = {
    "label": "|".join(PHASE_LABELS),
    "offline_label": "shift|readapt|overfit|improve|plateau",
    "set": r"[A-Za-z0-9_.\-]+?",
    "metric": r"[A-Za-z0-9_]+",
    "arm": r"[A-Za-z0-9_.\-]+",
}
"""What each placeholder of a pattern matches (a regular expression)."""

M = Metric

ROW = Group(
    "",
    "Every row",
    "The two keys every `metrics.jsonl` row has (every row also has the `budget/*` totals). A metric "
    "that was not measured at a step is absent from the row (never 0, never NaN).",
    (
        M(
            "step",
            "Update number: step N describes the N-th optimizer update and the model after it; step 0 is "
            "the base model. Global and monotone across the two trainings of a two-stage arm.",
        ),
        M("stage", "`sft` while μ = 1, `rl` while μ = 0, `mixed` otherwise (from `train/mu`)."),
    ),
)

BUDGET = Group(
    "budget/",
    "budget/: what the run has spent so far",
    "On every row (step 0 and evaluation rows included): running totals, non-decreasing, observation "
    "only. A two-stage arm counts its SFT stage and its RL stage continues from it; a best/auto switch "
    "row carries the whole SFT stage (updates trained past the switch, every dev evaluation). A resumed "
    "run continues them from its checkpoint.",
    (
        M(
            "budget/updates",
            "Optimizer updates made so far (skipped non-finite ones too); = `step`, except from a best/auto "
            "switch row on, where the SFT updates trained past the switch are added.",
        ),
        M(
            "budget/samples",
            "Completions generated (rollouts, each counted once even if TRL reuses it) plus expert rows "
            "trained on: `prompts_per_step × num_generations` per update with μ < 1 plus "
            "`expert_batch_size` (at most the expert set) per update with μ > 0.",
        ),
        M(
            "budget/tokens",
            "Compute proxy, non-padding tokens summed over updates: completion tokens generated + prompt "
            "and completion tokens of the rollouts through the GRPO term's forward/backward + prompt and "
            "response tokens of the expert rows through the SFT term's. Held-out evaluations and probes are "
            "excluded (the same for every arm), and so are dev evaluations (`budget/selection`).",
        ),
        M(
            "budget/selection",
            "Dev-split evaluations run so far to choose a switch (`sft_steps` best/auto: step 0, the early "
            "grid and every `dev_every` steps) or μ (a `phase_metric` on the dev split, as `chord_phase`'s: "
            "every evaluation step); 0 for arms that choose nothing.",
        ),
    ),
)

TRAIN = Group(
    "train/",
    "train/: the update",
    "One value per optimizer update (every row after step 0; step 0 has only `train/mu`).",
    (
        M("train/loss", "The combined loss (1 − μ)·L_GRPO + μ·L_SFT,w of the update (token means)."),
        M(
            "train/grpo_loss",
            "L_GRPO: PPO-clipped surrogate, token mean over rollout tokens; absent when μ = 1.",
        ),
        M(
            "train/sft_loss",
            "L_SFT,w: token-mean NLL of the expert tokens, each weighted by the arm's weighting "
            "(none, φ or IS); absent when μ = 0.",
        ),
        M(
            "train/mu",
            "μ of the update (the arm's schedule at this step); at step 0, μ(0). Per-prompt arms "
            "(docs/arms.md): hpt, the share of prompts trained on their demonstration; luffy/srft, the "
            "demonstrations' share of the rows, 1/(K + 1); relift, the buffered demonstrations' share of the "
            "step's prompts and demonstrations (0 on a step without its SFT update); at step 0, 0.5.",
        ),
        M(
            "train/lr",
            "Learning rate of this update (for pure-SFT updates the arm's `sft_lr`, else `train.sft_lr`; "
            "otherwise the arm's `lr`, else `train.learning_rate`; times the linear warm-up factor).",
        ),
        M("train/grad_norm", "Global gradient L2 norm before clipping to `train.max_grad_norm`."),
        M(
            "train/skipped",
            '1.0 on an update whose gradient was NaN/inf and was dropped (`train.on_nonfinite = "skip"`: '
            "the optimizer moved nothing); absent otherwise.",
        ),
    ),
)

ROLLOUT = Group(
    "rollout/",
    "rollout/: on-policy generations",
    "From the `prompts_per_step × num_generations` rollouts of an update with an RL term (μ < 1); "
    "absent while μ = 1 (nothing is generated).",
    (
        M("rollout/reward_mean", "Mean reward of the rollouts (1 = correct answer, 0 otherwise)."),
        M("rollout/reward_std", "Standard deviation of the rollout rewards (TRL's `reward_std`)."),
        M(
            "rollout/frac_zero_std",
            "Share of prompt groups whose rewards were all equal (zero advantage: no learning signal).",
        ),
        M("rollout/response_length", "Mean rollout length in tokens."),
        M("rollout/entropy", "Mean policy entropy (nats) over rollout tokens."),
        M(
            "rollout/p_mean",
            "Mean p = π_θ(token) over the rollout tokens, as the loss sees them (the counterpart of "
            "`expert/p_mean`).",
        ),
        M(
            "rollout/clip_frac",
            "Share of rollout tokens whose importance ratio the PPO clip (ε = `train.epsilon`) cut off.",
        ),
        M(
            "rollout/truncated_rate",
            "Share of rollouts that hit `train.max_completion_length` without an end token "
            "(TRL's `completions/clipped_ratio`).",
        ),
    ),
)

_TOKEN_STATS = (
    ("nll", "Mean −log p over the expert tokens (nats); `expert/nll` is the unweighted SFT loss."),
    ("p_mean", "Mean p, where `p = π_θ(y*_t | x, y*_<t)` is the policy's probability of expert token t."),
    ("p_q10", "10th percentile of p (linear interpolation): the foreign tail; its jump marks the shift."),
    ("p_q50", "Median p."),
    ("p_q90", "90th percentile of p."),
    (
        "divergent_frac",
        "Share of expert tokens with p < `train.divergent_threshold` (0.1): the foreign tokens.",
    ),
    (
        "phi_mean",
        "Mean φ(p) = p(1 − p) (≤ 0.25), whether or not φ weights the loss: CHORD-φ's effective scale.",
    ),
    ("entropy", "Mean policy entropy (nats) at the expert positions."),
)

EXPERT = Group(
    "expert/",
    "expert/: the expert rows of this update",
    "Every update with an SFT term (μ > 0), from the expert rows the trainer already scores "
    "(no extra forward pass); noisy, as the rows change every step. Absent when μ = 0.",
    tuple(M(f"expert/{k}", d) for k, d in _TOKEN_STATS)
    + (
        M(
            "expert/weight_mean",
            "Mean expert-token weight (the detached factor on −∇log p of the arm's expert term, times "
            "`sft_weight`): 1 plain SFT, φ CHORD-φ, sg(p) DFT, Â·γp/(p + γ)² LUFFY, 0.5·sg(e^−H) SRFT's "
            "SFT term. Per-prompt arms: on updates that train demonstrations.",
        ),
    ),
)

PROBE = Group(
    "probe/",
    "probe/: the fixed probe set",
    "At step 0 and every evaluation, on `train.probe_size` (64) fixed expert examples, the same for every "
    "arm and seed, in eval mode: comparable across arms, pure RL included. Off with `train.probes = false`.",
    tuple(
        M(
            f"probe/{k}",
            d.replace(
                "; `expert/nll` is the unweighted SFT loss.",
                "; held-out `eval/expert_nll` is its counterpart.",
            ),
        )
        for k, d in _TOKEN_STATS
    )
    + (
        M(
            "probe/kl_to_base",
            "KL(π_θ ‖ π_base) per expert position, averaged over the probe's expert tokens (nats); 0 at "
            "step 0; absent when the probe started after step 0 (a resumed run).",
        ),
    ),
)

EVAL = Group(
    "eval/",
    "eval/: held-out evaluation",
    "At step 0, every `train.eval_early_every` steps up to `train.eval_early_until`, then every "
    "`train.eval_steps` steps and at the last step; on fixed held-out sets, never trained on.",
    (
        M(
            "eval/accuracy",
            "Greedy accuracy on the main held-out set (world: addition; real: the first `data.eval` set).",
        ),
        M("eval/sampled_accuracy", "World: accuracy of one sample per problem at the rollout temperature."),
        M(
            "eval/format_rate",
            "Share of greedy answers that are well formed (world: a direct answer or a chain of thought; "
            "real: has a `\\boxed{}` answer).",
        ),
        M("eval/cot_rate", "World: share of greedy answers in the expert's chain-of-thought style."),
        M("eval/response_length", "Mean greedy answer length (world: characters = tokens; real: tokens)."),
        M(
            "eval/truncated_rate",
            "Share of greedy answers cut off at `train.max_completion_length` (no end token).",
        ),
        M(
            "eval/expert_nll",
            "Token-mean NLL (nats) of expert-style answers to the held-out problems; real data: only when "
            "the eval rows have expert responses. Its rise after its minimum is the overfit.",
        ),
        M("eval/general_accuracy", "World: greedy accuracy on the general skill (max), which nobody trains."),
        M(
            "eval/<set>_accuracy",
            "Real data: greedy accuracy on the further held-out set `<set>` of `data.eval`.",
        ),
        M(
            "eval/<set>_format_rate",
            "Real data: share of answers with a `\\boxed{}` answer on the set `<set>`.",
        ),
    ),
)

DEV = Group(
    "dev/",
    "dev/: the dev split, which training chooses on",
    'For `sft_steps = "best"` or `"auto"`: the SFT stage\'s evaluations on the dev split (never the '
    "held-out set), on the rows up to the switch; all of them also go to `sft_stage.jsonl`. For an arm "
    "whose μ watches a dev metric (`chord_phase`'s `phase_metric`): on every evaluation row.",
    (
        M(
            "dev/accuracy",
            "Greedy accuracy on the dev split; the switch is the step of its best value, and "
            "`chord_phase`'s μ follows its phases (the default `phase_metric`).",
        ),
        M("dev/expert_nll", "Token-mean NLL (nats) of expert-style answers to the dev problems."),
        M("dev/format_rate", "Real data: share of dev answers with a `\\boxed{}` answer."),
        M("dev/<metric>", "Any other evaluator metric `eval/<metric>`, measured on the dev split."),
    ),
)

TIME = Group(
    "time/",
    "time/ and perf/: wall clock",
    "Seconds of wall time (`time.perf_counter`); they differ between otherwise identical runs.",
    (
        M(
            "time/step_s",
            "Wall time of the update: generation, loss, backward and optimizer step (not evaluation).",
        ),
        M(
            "time/generate_s",
            "Wall time of the update's rollout generation; absent when nothing was generated.",
        ),
        M("time/eval_s", "Wall time of the held-out evaluation at this step (includes `time/probe_s`)."),
        M("time/probe_s", "Wall time of the token-divergence probe at this evaluation."),
        M(
            "time/dev_s",
            "Wall time of the dev-split evaluation at this step (selecting two-stage arms, `chord_phase`).",
        ),
        M(
            "perf/tokens_per_s",
            "Throughput: (rollout completion tokens + expert response tokens of the update, over all "
            "processes) / `time/step_s`.",
        ),
    ),
)

PHASE = Group(
    "phase/",
    "phase/: the online phase detector",
    "Written by the online detector (`chord_phase`'s μ, `PhaseCallback`, the `auto` switch) on every row "
    "that holds the watched metric. Label codes: shift 1, readapt 2, improve 3, overfit 4.",
    (
        M("phase/code", "Code of the last confirmed phase (0 before the first)."),
        M("phase/events", "Number of phases confirmed so far."),
        M("phase/best_step", "Step of the best value of the watched metric so far (in its direction)."),
        M("phase/best_value", "Best value of the watched metric so far."),
        M("phase/<label>_start_step", "On the confirming row: step where the confirmed phase began."),
        M("phase/<label>_lag", "On the confirming row: confirmation step − start step (steps)."),
        M(
            "phase/<label>_confirmed_step",
            "From the confirming row on: the step at which the phase was confirmed.",
        ),
    ),
)

LEGACY = Group(
    "phase/sft_",
    "Older names",
    "Logged by `chord_phase` in runs written before the detector's names were unified; read, never written now.",
    (
        M("phase/sft_code", "Old name of `phase/code`."),
        M("phase/sft_readapt_step", "Old name of `phase/readapt_confirmed_step` (also an improve)."),
        M("phase/sft_overfit_step", "Old name of `phase/overfit_confirmed_step`."),
    ),
)

WANDB = Group(
    "summary",
    "W&B analysis run summary",
    "Summary values of the run `phasescope report --wandb` adds (not in `metrics.jsonl`).",
    (
        M("verdict", "The comparison's verdict in words."),
        M("metric", "The metric the arms were compared on."),
        M("final/<arm>", "Mean over seeds of the arm's final value."),
        M("best/<arm>", "Mean over seeds of the arm's best value."),
        M(
            "phase/<arm>/<offline_label>/start_step",
            "First step of the arm's first phase with this label (mean curve).",
        ),
        M("phase/<arm>/<offline_label>/end_step", "Last step of that phase."),
        M(
            "phase/<arm>/<offline_label>/depth",
            "Shift: how far the metric fell below its start (metric units, positive).",
        ),
        M("phase/<arm>/<offline_label>/decline", "Overfit: how far the metric fell from its best."),
        M("phase/<arm>/<offline_label>/gain", "Readapt/improve: how far the metric rose."),
        M(
            "phase/<arm>/<offline_label>/recover_step",
            "Readapt: first step the fit is back at the stage's initial level.",
        ),
    ),
)

GROUPS: tuple[Group, ...] = (
    ROW,
    BUDGET,
    TRAIN,
    ROLLOUT,
    EXPERT,
    PROBE,
    EVAL,
    DEV,
    TIME,
    PHASE,
    LEGACY,
    WANDB,
)
"""Every registry entry, in the order of docs/metrics.md."""


def all_metrics() -> list[Metric]:
    """Every entry, exact names and patterns, in registry order."""
    return [m for g in GROUPS for m in g.metrics]


def is_pattern(name: str) -> bool:
    return "<" in name


@cache
def _compiled() -> tuple[dict[str, Metric], list[tuple[re.Pattern, Metric]]]:
    exact = {m.name: m for m in all_metrics() if not is_pattern(m.name)}
    patterns = []
    for m in all_metrics():
        if is_pattern(m.name):
            parts = re.split(r"<(\w+)>", m.name)
            rx = "".join(f"(?:{PLACEHOLDERS[p]})" if i % 2 else re.escape(p) for i, p in enumerate(parts))
            patterns.append((re.compile(rx + r"\Z"), m))
    return exact, patterns


def describe_metric(key: str) -> Metric | None:
    """The registry entry for a logged key: its exact entry, else the first pattern that matches it, else None."""
    exact, patterns = _compiled()
    if key in exact:
        return exact[key]
    return next((m for rx, m in patterns if rx.match(key)), None)


def undocumented(keys) -> list[str]:
    """The keys (sorted) that no registry entry describes."""
    return sorted({k for k in keys if describe_metric(k) is None})
