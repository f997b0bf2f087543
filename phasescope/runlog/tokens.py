"""Read `<arm>/seed<k>/tokens.jsonl`, the token-divergence probe's records, into pandas frames.

One record per evaluation step (written by `phasescope.train.probes.TokenProbe`): a histogram of
expert-token log p over fixed bins, the K most divergent tokens with their context, mean p per token
class, and — for small probe sets — p of every probe token, with the probe's text in the first record
a process writes. This module never imports torch: logs can be read where no training stack exists.

    log = read_tokens("runs/default/sft_then_rl/seed0")
    log.tokens        # one row per (step, example, position): token, context, p, logp, rank
    log.hist          # one row per (step, bin): lo/hi in log p and in p, count
    log.steps         # one row per step: n_tokens, first_p, p[<class>] ...
    moved_most(log, 0, 40)   # the probe tokens whose p changed most between steps 0 and 40

A truncated final line (a crash mid-write) is skipped and reported in `log.notes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from phasescope.errors import UsageError
from phasescope.runlog.reader import read_jsonl

TOKENS_FILE = "tokens.jsonl"
TOKEN_COLUMNS = ["step", "stage", "example", "position", "token", "context", "p", "logp", "rank"]


@dataclass
class TokenLog:
    tokens: pd.DataFrame
    hist: pd.DataFrame
    steps: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _tokens_path(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / TOKENS_FILE
    if not path.is_file():
        raise UsageError(f"{path} does not exist (runs write it when train.probes is on)")
    return path


def _logp(p) -> float:
    return math.log(p) if p and p > 0 else float("-inf")


def _token_rows(rec: dict, header: dict | None) -> list[dict]:
    """Rows of one record: every probe token when p was logged for all, else the top divergent only."""
    step, stage = rec.get("step"), rec.get("stage")
    rank = {(t["example"], t["position"]): i for i, t in enumerate(rec.get("top_divergent", []))}
    token_p = rec.get("token_p")
    if token_p is None:
        return [
            {
                "step": step,
                "stage": stage,
                "example": t["example"],
                "position": t["position"],
                "token": t.get("token"),
                "context": t.get("context"),
                "p": t["p"],
                "logp": _logp(t["p"]),
                "rank": i,
            }
            for i, t in enumerate(rec.get("top_divergent", []))
        ]
    rows = []
    width = header.get("context_chars", 12) if header else 12
    for ex, ps in enumerate(token_p):
        toks = header["tokens"][ex] if header else None
        prompt = header["prompts"][ex] if header else None
        for pos, p in enumerate(ps):
            rows.append(
                {
                    "step": step,
                    "stage": stage,
                    "example": ex,
                    "position": pos,
                    "token": toks[pos] if toks else None,
                    "context": (prompt + "".join(toks[:pos]))[-width:] if toks else None,
                    "p": p,
                    "logp": _logp(p),
                    "rank": rank.get((ex, pos)),
                }
            )
    return rows


def has_probe_header(path: str | Path) -> bool:
    """Whether a tokens.jsonl already holds the probe's text header (written once per file)."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        records, _ = read_jsonl(path)
    except UsageError:
        return False
    return any(isinstance(r.get("probe"), dict) for r in records)


def read_tokens(path: str | Path) -> TokenLog:
    """A run directory's (or a tokens.jsonl file's) probe records as frames; see the module docstring."""
    path = _tokens_path(path)
    records, notes = read_jsonl(path)
    tokens, hist, steps = [], [], []
    header = None
    for rec in records:
        if "step" not in rec:
            continue
        header = rec.get("probe", header)  # the probe's text, carried forward to later records
        tokens += _token_rows(rec, header)
        edges, counts = rec.get("hist_edges"), rec.get("hist_counts")
        if edges and counts:
            for i, c in enumerate(counts):
                hist.append(
                    {
                        "step": rec["step"],
                        "bin": i,
                        "lo": edges[i],
                        "hi": edges[i + 1],
                        "p_lo": math.exp(edges[i]),
                        "p_hi": math.exp(edges[i + 1]),
                        "count": c,
                    }
                )
        summary = {"step": rec["step"], "stage": rec.get("stage"), "n_tokens": rec.get("n_tokens")}
        if "first_p" in rec:
            summary["first_p"] = rec["first_p"]
        for cls, p in rec.get("class_p", {}).items():
            summary[f"p[{cls}]"] = p
        steps.append(summary)
    token_frame = pd.DataFrame(tokens, columns=TOKEN_COLUMNS)
    token_frame["rank"] = token_frame["rank"].astype("Int64")
    return TokenLog(
        tokens=token_frame,
        hist=pd.DataFrame(hist, columns=["step", "bin", "lo", "hi", "p_lo", "p_hi", "count"]),
        steps=pd.DataFrame(steps),
        notes=notes,
    )


def moved_most(
    log: TokenLog | pd.DataFrame | str | Path, step_a: int, step_b: int, n: int = 10, by: str = "p"
) -> pd.DataFrame:
    """The n probe tokens whose probability moved most from `step_a` to `step_b`.

    `by="p"` ranks by |p_b − p_a|; `by="logp"` by |log p_b − log p_a| (which also surfaces moves among
    tiny probabilities). Only tokens present at both steps are compared: every probe token when the
    run logged all of them, otherwise the union of the two steps' top-divergent lists, intersected.
    Columns: example, position, token, context, p_a, p_b, delta (p_b − p_a), dlogp; largest move first.
    """
    if by not in ("p", "logp"):
        raise UsageError(f"moved_most: by must be 'p' or 'logp', got {by!r}")
    frame = log.tokens if isinstance(log, TokenLog) else log
    if isinstance(frame, (str, Path)):
        frame = read_tokens(frame).tokens
    have = sorted(frame["step"].unique().tolist())
    for s in (step_a, step_b):
        if s not in have:
            raise UsageError(f"step {s} is not in the tokens log; logged steps: {have}")
    key = ["example", "position"]
    a = frame[frame["step"] == step_a].drop_duplicates(key)
    b = frame[frame["step"] == step_b].drop_duplicates(key)
    both = a.merge(b[[*key, "p", "logp"]], on=key, suffixes=("_a", "_b"))
    both["delta"] = both["p_b"] - both["p_a"]
    both["dlogp"] = both["logp_b"] - both["logp_a"]
    size = both["delta" if by == "p" else "dlogp"].abs()
    both = both.assign(_size=size).sort_values(["_size", *key], ascending=[False, True, True], kind="stable")
    cols = [*key, "token", "context", "p_a", "p_b", "delta", "dlogp"]
    return both[cols].head(n).reset_index(drop=True)
