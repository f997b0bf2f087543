"""Arms in order of a comparison's quantity, and the pairwise entry of two arms read either way round.
Pure look-ups on the dict of ``compare_frame``, shared by the comparison, its verdict and its tables.
"""

from __future__ import annotations


def ranking(result: dict, quantity: str = "final") -> list[str]:
    """Arms ordered best first by the mean of ``quantity`` (final, best or at_matched); arms without
    a value last."""
    sign = -1 if result["direction"] == "higher" else 1

    def key(a):
        mean = result["arms"][a][quantity]["mean"]
        return (mean is None, 0.0 if mean is None else sign * mean)

    return sorted(result["arms"], key=key)


def find_pair(result: dict, a: str, b: str, quantity: str) -> tuple[dict, int] | tuple[None, int]:
    """The pairwise entry for (a, b) and the sign to read it as a − b (+1) or b − a (−1)."""
    for p in result["pairwise"]:
        if p["quantity"] != quantity:
            continue
        if (p["a"], p["b"]) == (a, b):
            return p, 1
        if (p["a"], p["b"]) == (b, a):
            return p, -1
    return None, 1
