"""Expert response lengths against the generation cap: what SFT teaches vs. what rollouts can finish.

Rollouts and held-out answers stop at `train.max_completion_length` tokens; an expert trace longer
than that teaches the model answers it cannot finish there (its held-out answers hit the cap, the
format rate falls, and the segmenter reads a shift). `data.max_expert_tokens` cuts such traces
(`data.expert_truncation = "truncate"`) or drops them (`"drop"`), as `train/real.cap_expert_responses`
applies it; `cap_effect` counts what either does. Pure functions on token counts (the raw response
plus its end-of-turn token: about the rendered assistant turn training cuts).
"""

from __future__ import annotations

from dataclasses import dataclass

from phasescope.preflight.report import count, share


@dataclass(frozen=True)
class CapEffect:
    n: int
    median: int
    p90: int
    longest: int
    over_cap: int
    """Responses longer than the generation cap."""
    limit: int | None
    """data.max_expert_tokens (None: responses are used whole)."""
    mode: str
    """truncate or drop."""
    affected: int
    """Responses the limit would truncate or drop."""

    @property
    def kept(self) -> int:
        return self.n - self.affected if self.mode == "drop" else self.n


def quantile(sorted_values: list[int], q: float) -> int:
    """The nearest-rank q-quantile of sorted values (0 for none)."""
    if not sorted_values:
        return 0
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def cap_effect(lengths: list[int], cap: int, limit: int | None = None, mode: str = "truncate") -> CapEffect:
    """Counts for expert responses of `lengths` tokens against the cap and the optional limit."""
    s = sorted(lengths)
    affected = sum(n > limit for n in s) if limit else 0
    return CapEffect(
        n=len(s),
        median=quantile(s, 0.5),
        p90=quantile(s, 0.9),
        longest=s[-1] if s else 0,
        over_cap=sum(n > cap for n in s),
        limit=limit,
        mode=mode,
        affected=affected,
    )


def expert_length_summary(e: CapEffect, cap: int) -> str:
    """`median 310, p90 1,400, max 8,190 tokens; 52% (520 of 1,000) over train.max_completion_length = 1,024`."""
    text = (
        f"median {e.median:,}, p90 {e.p90:,}, max {e.longest:,} tokens; "
        f"{share(e.over_cap, e.n)} over train.max_completion_length = {cap:,}"
    )
    if e.limit:
        verb = "truncates" if e.mode == "truncate" else "drops"
        text += f"; data.max_expert_tokens = {e.limit:,} {verb} {count(e.affected, 'response')}"
    return text


def cap_note(e: CapEffect, cap: int, source: str) -> str | None:
    """A note when expert responses run past the cap and nothing limits them (None otherwise)."""
    if not e.over_cap or (e.limit and e.limit <= cap):
        return None
    return (
        f"{source}: {share(e.over_cap, e.n)} expert responses are longer than train.max_completion_length = "
        f"{cap:,} tokens (median {e.median:,}, max {e.longest:,}); rollouts and held-out answers stop there, so SFT "
        "teaches answers the model cannot finish; raise train.max_completion_length, or set "
        'data.max_expert_tokens with data.expert_truncation = "truncate" or "drop"'
    )


def limit_error(e: CapEffect, source: str) -> str | None:
    """An error when dropping long responses leaves no expert row."""
    if e.mode == "drop" and e.limit and e.kept == 0 and e.n:
        return (
            f"{source}: data.max_expert_tokens = {e.limit:,} drops all {e.n:,} expert responses; "
            'raise it or set data.expert_truncation = "truncate"'
        )
    return None
