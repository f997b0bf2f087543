"""Math answer checking with math-verify: the rollout reward and held-out accuracy.

`is_correct(response, answer)` extracts the response's final answer the way math-verify does
(LaTeX with `\\boxed{}` first, then plain expressions) and compares it with the reference by
numeric and symbolic equivalence (1/2 = 0.5 = \\frac{1}{2}). `has_boxed` is the format check
behind eval/format_rate. math-verify is an optional extra: `pip install phasescope[math]`.
"""

from __future__ import annotations

import re
import threading

from phasescope.errors import UsageError

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _math_verify():
    try:
        import math_verify
    except ImportError:
        raise UsageError(
            "math answer checking needs math-verify: pip install 'phasescope[math]' (or math-verify)"
        ) from None
    return math_verify


def _timeouts() -> dict:
    # math-verify's timeouts use SIGALRM, which only works in the main thread.
    if threading.current_thread() is threading.main_thread():
        return {}
    return {"parsing_timeout": None}


def _gold(answer: str):
    mv = _math_verify()
    text = answer.strip()
    if "\\boxed" not in text and "$" not in text:
        text = f"${text}$"
    return mv.parse(text, **_timeouts())


def is_correct(response: str, answer: str) -> bool:
    """True when the response's final answer is equivalent to the reference `answer`."""
    mv = _math_verify()
    gold = _gold(answer)
    if not gold:
        return False
    pred = mv.parse(response, **_timeouts())
    if not pred:
        return False
    kw = {} if threading.current_thread() is threading.main_thread() else {"timeout_seconds": None}
    try:
        return bool(mv.verify(gold, pred, **kw))
    except Exception:  # a pathological expression is a wrong answer, never a crash
        return False


def has_boxed(response: str) -> bool:
    """True when the response states a `\\boxed{...}` answer."""
    return _BOXED.search(response) is not None


def last_boxed(response: str) -> str | None:
    """Content of the last `\\boxed{...}` (balanced braces), or None."""
    starts = [m.end() for m in _BOXED.finditer(response)]
    if not starts:
        return None
    i = starts[-1]
    depth, j = 1, i
    while j < len(response) and depth:
        depth += {"{": 1, "}": -1}.get(response[j], 0)
        j += 1
    return response[i : j - 1] if depth == 0 else None


def math_reward(completions, answer, **kwargs) -> list[float]:
    """TRL reward function: 1.0 for an answer equivalent to the reference, else 0.0.

    Completions are text or conversational ([{"role": "assistant", "content": ...}]).
    """
    out = []
    for c, a in zip(completions, answer):
        text = c[-1]["content"] if isinstance(c, list) else c
        out.append(1.0 if a is not None and is_correct(text, str(a)) else 0.0)
    return out
