"""Which examples a run uses: the one selection rule shared by training and the preflight.

`draw_set(dc, role, source)` draws one role's subset from `[data]`: the expert rows (`n_expert`),
the RL prompts (`n_rl_prompts`; when they come from the expert's source they skip the problems the
expert subset uses, the paper's disjoint split) and each held-out set (`n_eval`; its expert
responses are kept only when every problem has one, for `eval/expert_nll`). `train/real.load_data`
and `preflight` both call it, so the counts `phasescope check` prints are the run's.
`limit_expert` is the `data.max_expert_tokens` rule on token counts (truncate or drop).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasescope.data.sources import Drawn, Example, draw_examples, norm_prompt, split_eval_label
from phasescope.errors import UsageError

ROLES = ("expert", "rl_prompts", "eval", "dev")


def eval_sources(items: list[str]) -> list[tuple[str, str]]:
    """`data.eval` entries → (name, source): `name=source`, or the file stem of a bare source."""
    out = []
    for item in items:
        name, src = split_eval_label(item)
        stem = Path(src.split("?")[0].split(":")[0]).stem.replace("-", "_").replace(".", "_")
        out.append((name or stem or f"set{len(out)}", src))
    return out


def data_sources(dc: Any) -> dict[str, tuple[str, str]]:
    """Role (rl_prompts, expert, eval:<name>) → (source, default split) of every configured source."""
    out = {}
    if dc.rl_prompts:
        out["rl_prompts"] = (dc.rl_prompts, "train")
    if dc.expert:
        out["expert"] = (dc.expert, "train")
    for name, src in eval_sources(dc.eval):
        out[f"eval:{name}"] = (src, "test")
    return out


def draw_set(dc: Any, role: str, source: str, expert: list[Example] | None = None) -> Drawn:
    """The examples `role` (expert, rl_prompts or eval) uses from `source` under `dc` (a DataConfig).

    `expert`: the drawn expert rows, which RL prompts from the same source skip.
    """
    common = {"prompt_field": dc.prompt_field, "seed": dc.seed}
    if role == "expert":
        return draw_examples(source, response_field=dc.response_field, limit=dc.n_expert, **common)
    if role == "rl_prompts":
        same = expert is not None and source == dc.expert
        exclude = frozenset(norm_prompt(e.prompt) for e in expert) if same else frozenset()
        drawn = draw_examples(
            source, answer_field=dc.answer_field, limit=dc.n_rl_prompts, exclude=exclude, **common
        )
        if not drawn.examples:
            raise UsageError(
                f"data source {source!r}: all {drawn.excluded:,} of its usable RL prompts are problems of the "
                f"expert subset (data.n_expert = {dc.n_expert:,}); lower data.n_expert or give data.rl_prompts "
                "a source of its own"
            )
        return drawn
    if role not in ("eval", "dev"):
        raise ValueError(f"unknown data role {role!r}; roles: {ROLES}")
    # The dev split (SFT-best's switch is chosen on it) reads like a held-out set, from `validation`.
    drawn = draw_examples(
        source,
        answer_field=dc.answer_field,
        response_field=dc.response_field,
        response_optional=True,
        default_split="test" if role == "eval" else "validation",
        limit=dc.n_eval,
        **common,
    )
    if all(e.response for e in drawn.examples):
        return drawn
    plain = [Example(e.prompt, e.answer, None) for e in drawn.examples]
    return Drawn(plain, drawn.skipped, drawn.excluded, drawn.read, drawn.skipped_by, drawn.hints, drawn.total)


def limit_expert(lengths: list[int], limit: int, mode: str) -> tuple[list[int], list[int]]:
    """`data.max_expert_tokens` on responses of `lengths` tokens: (indices kept, their new lengths).

    0 keeps every response whole; "truncate" cuts longer ones to `limit` tokens; "drop" leaves them out.
    """
    if not limit:
        return list(range(len(lengths))), list(lengths)
    if mode == "drop":
        kept = [i for i, n in enumerate(lengths) if n <= limit]
        return kept, [lengths[i] for i in kept]
    return list(range(len(lengths))), [min(n, limit) for n in lengths]
