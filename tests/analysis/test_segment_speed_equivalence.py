"""The segmenter's speed work changes no result: on a fixed set of 52 curves, changepoints, intervals,
knots, rounding width, BIC per knot count, fitted values and phase labels equal (to 1e-9) those the
code gave before it was made faster, stored in tests/fixtures/segment_reference.json.

The curves are drawn from the planted generators with fixed seeds (so they are not stored); the
reference was written by the code of commit 056ee80 (before any speed change), and rewritten when
a change of behaviour (not of speed) moved results (issue 22's one-step spikes and events at the
data's extreme moved changepoints of 5 of the 52 curves, by 1-93 steps; no label changed), with

    PYTHONPATH=. python tests/analysis/test_segment_speed_equivalence.py --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from phasescope.analysis import eased
from phasescope.analysis.phases import label_phases
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.synthetic import FAMILIES, VARIANTS, family_curve, planted_curve, random_planted

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "segment_reference.json"


def reference_cases() -> list[tuple[str, np.ndarray, np.ndarray, dict, str]]:
    """(name, steps, values, segmenter arguments, direction): every benchmark family both ways, the
    binned search (> 200 points), several seeds, a known stage boundary and a > 5,000-point curve."""
    rng = np.random.default_rng(2022)
    cases = []
    for rep in range(3):
        for fam in FAMILIES:
            for lower in (False, True):
                c = family_curve(fam, rng, lower_is_better=lower)
                direction = "lower" if lower else "higher"
                kw = {"eval_n": 500} if fam == "binomial" else {}
                cases.append((f"{fam}-{direction}-{rep}", c.steps, c.values, kw, direction))
    for v in VARIANTS[:4]:
        c = random_planted(v, rng, n_points=int(rng.integers(8, 40)), ease=0.02)
        cases.append((f"short-{v}", c.steps, c.values, {}, "higher"))
    for i in range(3):
        c = random_planted(VARIANTS[i], rng, n_seeds=3, ease=0.015)
        cases.append((f"seeds-{i}", c.steps, c.values, {}, "higher"))
    c = planted_curve("full", n_points=300, spacing="random", ease=0.02, rng=rng)
    cases.append(("fixed-knot", c.steps, c.values, {"fixed_knots": [float(c.steps[150])]}, "higher"))
    c = planted_curve("full", n_points=12_000, span=1e6, spacing="random", noise=0.04, ease=0.01, rng=rng)
    cases.append(("long-12k", c.steps, c.values, {}, "higher"))
    c = planted_curve("no_overfit", n_points=500, spacing="random", ease=0.0, noise=0.0, rng=rng)
    cases.append(("noiseless", c.steps, c.values, {}, "higher"))
    return cases


def summarise(steps, values, kwargs: dict, direction: str) -> dict:
    """What the comparison covers, as JSON-ready floats (repr round-trips exactly)."""
    seg = PhaseSegmenter(**kwargs).fit(steps, values).predict()
    phases = label_phases(seg, direction)
    return {
        "changepoints": [float(c) for c in seg.changepoints],
        "ci": [[float(lo), float(hi)] for lo, hi in seg.ci],
        "knot_index": [int(k) for k in seg.knot_index],
        "uncertain": [bool(u) for u in seg.uncertain],
        "ease": float(seg.ease),
        "sigma": float(seg.sigma),
        "bic": {str(k): float(v) for k, v in sorted(seg.bic.items())},
        "fitted": [float(v) for v in seg.fitted[:: max(1, len(seg.fitted) // 20)]],
        "slopes": [float(v) for v in seg.slopes],
        "phases": [[p.label, float(p.start_step), float(p.end_step), *map(float, p.ci)] for p in phases],
    }


def _close(a, b, scale: float, what: str) -> None:
    np.testing.assert_allclose(
        np.asarray(a, float), np.asarray(b, float), rtol=1e-9, atol=1e-9 * scale, err_msg=what
    )


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


def test_reference_covers_the_cases(reference):
    assert [name for name, *_ in reference_cases()] == list(reference)


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: c[0])
def test_segmentation_unchanged(case, reference):
    name, steps, values, kwargs, direction = case
    got, want = summarise(steps, values, kwargs, direction), reference[name]
    span = float(steps[-1] - steps[0])
    yspan = float(np.ptp(values)) or 1.0
    assert got["knot_index"] == want["knot_index"]
    assert got["uncertain"] == want["uncertain"]
    assert [p[0] for p in got["phases"]] == [p[0] for p in want["phases"]]
    _close(got["changepoints"], want["changepoints"], span, f"{name}: changepoints")
    _close(np.ravel(got["ci"]), np.ravel(want["ci"]), span, f"{name}: intervals")
    _close([p[1:] for p in got["phases"]], [p[1:] for p in want["phases"]], span, f"{name}: phase bounds")
    _close(got["ease"], want["ease"], span, f"{name}: rounding width")
    _close(got["sigma"], want["sigma"], yspan, f"{name}: sigma")
    _close(got["fitted"], want["fitted"], yspan, f"{name}: fitted")
    _close(got["slopes"], want["slopes"], yspan / span, f"{name}: slopes")
    assert list(got["bic"]) == list(want["bic"])
    _close(list(got["bic"].values()), list(want["bic"].values()), 1.0, f"{name}: BIC")


if __name__ == "__main__" and "--write" in sys.argv:
    out = {name: summarise(s, v, kw, d) for name, s, v, kw, d in reference_cases()}
    REFERENCE.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {len(out)} cases to {REFERENCE}")


def test_batched_fits_equal_one_at_a_time():
    """``eased.fit_batch`` over stacked ``eased.hinges`` gives what ``eased.fit`` gives for each
    width alone, a singular design (two equal knots) included, and the hinge columns are
    ``smoothed_hinge``'s."""
    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(0, 1, 300))
    x = (x - x[0]) / (x[-1] - x[0])
    y = np.where(x < 0.4, -x, x - 0.8) + rng.normal(0, 0.05, len(x))
    widths = [0.0, 0.005, 0.02, 0.035]
    for knots in ([0.4], [0.3, 0.6], [0.45, 0.45], []):
        H = eased.hinges(x, knots, widths)
        for i, w in enumerate(widths):
            for j, k in enumerate(knots):
                np.testing.assert_allclose(H[i, j], eased.smoothed_hinge(x, k, w), rtol=0, atol=1e-15)
        fitted, coef, sse = eased.fit_batch(x, y, H)
        for i, w in enumerate(widths):
            f1, c1, s1 = eased.fit(x, y, knots, w)
            assert sse[i] == pytest.approx(s1, rel=1e-9)
            np.testing.assert_allclose(fitted[i], f1, atol=1e-9)
            if len(set(knots)) == len(knots):  # coefficients of a singular design are not unique
                np.testing.assert_allclose(coef[i], c1, rtol=1e-7, atol=1e-9)
