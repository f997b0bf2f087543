"""Phases while a run is training: an online detector fed one (step, value) point at a time.

``OnlineDetector.update(step, value)`` returns the phase changes confirmed by that point, each as
an ``Event`` with the step where the phase began (``start_step``), the step at which it was
confirmed (``confirmed_step``; the difference is the lag) and the fitted value where it began (for
an overfit, the best value reached). ``detector.phase`` is the label of the last confirmed phase.
It is causal: an event, once returned, is never revised or withdrawn.

Why it is built on the offline segmenter rather than a classic online changepoint test alone: the
phases are changes of *trend* with labels that depend on what came before (a decline is a shift
before any improvement, an overfit after one), and at the end of the run the events must agree with
``phasescope segment`` on the whole curve. So once ``min_points`` points are in (20: shorter prefixes
fit knots to noise), after each new point (every ``refit_fraction`` of the points so far on long
curves) the prefix is segmented and labelled exactly as offline (``PhaseSegmenter`` without
bootstrap, ``label_phases``), and the first trend phase after the last confirmed one becomes a
*candidate*. It is confirmed when

- the last ``confirmations`` (2) prefix fits all have it (same label, start within ``tolerance`` of
  the span seen so far, or in the plateau just before it): a wiggle at the end of the prefix is
  labelled as a phase by one fit and absorbed by the next. Every trend phase of a fit counts, so
  an overfit is agreed on while the improve before it still waits for its own test;
- at least ``min_phase_points`` points lie inside it;
- its fitted change is at least ``min_effect`` of the fitted curve's range (a late knot makes a
  plateau look like a significant, tiny decline);
- its trend, measured from the level where the phase before it ends (``_trend_t``), has the sign
  of its label at ``t_confirm`` standard errors, and a line through its own points at ``t_own``.
  This is the test that sets the lag. The segmenter's own slope test is not enough on its own:
  it placed the knot where the change looks largest and leans on continuity with the phase
  before, so it confirms wiggles. ``t_confirm`` trades lag for false alarms
  (``benchmarks/online_benchmark.py --t-confirm``). An overfit has its own threshold,
  ``t_confirm_overfit`` (3.5, against 4 for the others), and a second test: the curve since the
  phase before it began must fit a rise that turns into a decline better than a rise that levels
  off, each with its best corner, by ``t_plateau`` (2) noise units (``plateau_z``). The anchored
  test leans on a line through the improvement, which overshoots the level of a rise that only
  levels off when the knot sits after the turn.

Phases are confirmed in order. One exception: an improvement from the first evaluation with fewer
than ``min_phase_points`` points (an early peak, reached in three or four evaluations) cannot be
tested on its own, so the overfit after it may be confirmed on its own tests while the rise waits;
the fit only labels that decline an overfit when the rise before it gains more than the noise.
Later in a curve a short rise and fall is more often noise, and waits.

``confirm="glr"`` swaps the last test, for an overfit and a readapt, for a sequential GLR with the
noise known (``glr``: a sustained decline after the best point, a sustained rise after the lowest,
against "never declines" / "never rises"), at ``glr_threshold`` (default ``GLR_THRESHOLDS``,
calibrated at 2% false alarms on no-event curves). It is also tested at every point, without a
refit, once the phase before is confirmed (``GLR_NEXT``). ``benchmarks/families_online.py`` measures
both against an oracle; "refit" stays the default: the GLR was slower at every threshold tried.

Plateaus are not reported (see ``_candidate``): the events are the offline trend phases, and
``phase`` stays at the last trend through a plateau. The confirmed ``start_step`` is the start that
the latest agreeing fit gives, so it uses everything seen up to the confirmation.

``PhaseTracker`` is the one adapter every user of the detector goes through (the trainer for
chord_phase's μ, ``PhaseCallback``, the two-stage auto switch, ``phasescope watch``), so they log
one set of names. On every row that holds the watched metric: ``phase/code`` (``PHASE_CODES``; 0
before the first confirmed phase), ``phase/events`` (phases confirmed so far), ``phase/best_step``
and ``phase/best_value``; on the row that confirms a phase, ``phase/<label>_start_step`` and
``phase/<label>_lag``; from that row on, ``phase/<label>_confirmed_step`` (the first confirmation of
that label). All values are floats.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from phasescope.analysis import online_rules as rules
from phasescope.analysis.curves import infer_direction
from phasescope.analysis.online_rules import despike, offline_reference, plateau_z
from phasescope.analysis.phases import label_phases
from phasescope.analysis.segment import MIN_POINTS, PhaseSegmenter, noise_sigma
from phasescope.errors import UsageError
from phasescope.runlog.names import rate_hint

PHASE_CODES = {"shift": 1, "readapt": 2, "improve": 3, "overfit": 4}
"""A number per phase label, for loggers that only take scalars (``phase/code``; 0 = none yet)."""


@dataclass(frozen=True)
class Event:
    """One confirmed phase change; JSON-ready through ``to_dict``."""

    label: str
    start_step: float
    confirmed_step: float
    value: float  # the fitted value of the metric at start_step
    metric: str | None = None
    note: str | None = None  # e.g. ``phases.EARLY_BEST``: an overfit from the first evaluation

    @property
    def lag(self) -> float:
        return self.confirmed_step - self.start_step

    def to_dict(self) -> dict:
        return {**asdict(self), "lag": self.lag}


def direction_for(metric: str | None, direction: str | None = None) -> str:
    """The direction to use: the one given, else the one the name implies, else 'higher'."""
    if direction is not None:
        if direction not in ("higher", "lower"):
            raise UsageError(f"direction must be 'higher' or 'lower', got {direction!r}")
        return direction
    return (infer_direction(metric) if metric else None) or "higher"


class OnlineDetector:
    """Causal phase detector. ``update(step, value) -> list[Event]``; ``phase``; ``events``.

    Points with a step not after the last one are ignored (a resumed trainer re-logs steps), as
    are non-finite values (a NaN evaluation is not evidence of a phase).
    """

    def __init__(
        self,
        metric: str | None = None,
        direction: str | None = None,
        *,
        confirmations: int = 2,
        min_phase_points: int = 4,
        tolerance: float = 0.05,
        refit_fraction: float = 0.01,
        min_points: int = 20,
        t_confirm: float = 4.0,
        label_t_min: float = 3.0,
        min_effect: float = 0.05,
        t_own: float = 2.0,
        t_confirm_overfit: float = 3.5,
        t_plateau: float = 2.0,
        eval_n: int | None = None,
        confirm: str = "refit",
        glr_threshold: float | None = None,
    ):
        if confirm not in ("refit", "glr"):
            raise UsageError(f"confirm must be 'refit' or 'glr', got {confirm!r}")
        self.metric = metric
        self._rate = rate_hint(metric)  # read once: the segmenter is refitted at every new point
        self.direction = direction_for(metric, direction)
        self.confirmations = confirmations
        self.min_phase_points = min_phase_points
        self.tolerance = tolerance
        self.refit_fraction = refit_fraction
        self.min_points = max(min_points, MIN_POINTS)
        self.t_confirm = t_confirm
        self.label_t_min = label_t_min
        self.min_effect = min_effect
        self.t_own = t_own
        self.t_confirm_overfit = t_confirm_overfit
        self.t_plateau = t_plateau
        self.eval_n = eval_n
        self.confirm, self.glr_threshold = confirm, glr_threshold
        self._spike_sd = 0.0
        self._fit_sd = self._fit_range = self._floor_sd = 0.0
        self._clean = np.zeros(0)  # the values of the latest fit, lone outliers replaced (``despike``)
        self.noise = "none yet"  # which noise floor the latest fit used (``noise.NoiseFloor.describe``)
        self.steps: list[float] = []
        self.values: list[float] = []
        self.events: list[Event] = []
        self._recent: list[list[tuple[str, float, float]]] = []  # the last fits' trend phases
        self._next_fit = self.min_points

    @property
    def phase(self) -> str | None:
        """The label of the last confirmed phase (None before the first is confirmed)."""
        return self.events[-1].label if self.events else None

    @property
    def best(self) -> tuple[float, float] | None:
        """(step, value) of the best value seen so far in the metric's direction, or None."""
        if not self.values:
            return None
        y = np.asarray(self.values)
        i = int(np.argmax(y) if self.direction == "higher" else np.argmin(y))
        return self.steps[i], self.values[i]

    def update(self, step: float, value: float) -> list[Event]:
        """Add one point; return the phase changes it confirms (usually none)."""
        step, value = float(step), float(value)
        if not math.isfinite(value) or not math.isfinite(step) or (self.steps and step <= self.steps[-1]):
            return []
        self.steps.append(step)
        self.values.append(value)
        n = len(self.steps)
        if n < self._next_fit:
            return self._glr_confirm() if self.confirm == "glr" else []
        self._next_fit = n + max(1, int(self.refit_fraction * n))
        out = self._confirm(self._fit_phases())
        return out + self._glr_confirm() if self.confirm == "glr" else out

    def state_dict(self) -> dict:
        """What the detector has seen and decided, JSON-ready (a checkpoint's callback state);
        ``load_state_dict`` of it continues exactly where this detector stands."""
        return {
            "metric": self.metric,
            "direction": self.direction,
            "steps": list(self.steps),
            "values": list(self.values),
            "events": [asdict(e) for e in self.events],
            "recent": [[list(p) for p in fit] for fit in self._recent],
            "next_fit": self._next_fit,
            "fit_sd": self._fit_sd,
            "fit_range": self._fit_range,
            "eval_n": self.eval_n,
            "floor_sd": self._floor_sd,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state_dict()``'s output (of a detector on the same metric and direction)."""
        theirs = (state.get("metric"), state.get("direction"))
        if theirs != (self.metric, self.direction):
            raise UsageError(
                f"the saved phase detector watched {theirs[0]!r} ({theirs[1]}), this one "
                f"{self.metric!r} ({self.direction})"
            )
        self.steps = [float(s) for s in state["steps"]]
        self.values = [float(v) for v in state["values"]]
        self.events = [Event(**e) for e in state["events"]]
        self._recent = [[(str(a), float(b), float(c)) for a, b, c in fit] for fit in state["recent"]]
        self._next_fit = int(state["next_fit"])
        self._fit_sd, self._fit_range = float(state["fit_sd"]), float(state["fit_range"])
        self._floor_sd = float(state.get("floor_sd", 0.0))
        self.eval_n = state.get("eval_n", self.eval_n)

    def run(self, steps, values) -> list[Event]:
        """Feed a whole curve point by point; return every event confirmed."""
        out: list[Event] = []
        for s, v in zip(steps, values, strict=True):
            out += self.update(s, v)
        return out

    def _fit_phases(self) -> list:
        # Lone outliers are replaced before fitting (``despike``): one outlying evaluation must
        # never confirm a phase, and a segmenter fits a spike as a peak or a dip.
        x, y = np.asarray(self.steps), np.asarray(self.values)
        self._spike_sd = noise_sigma((x - x[0]) / max(x[-1] - x[0], 1e-12), y)
        self._clean = despike(y, self._spike_sd)
        seg = PhaseSegmenter(n_bootstrap=0, eval_n=self.eval_n, rate=self._rate)
        seg = seg.fit(x, self._clean).predict()
        resid = seg.values - seg.fitted
        self._fit_sd = float(np.sqrt(resid @ resid / max(1, len(resid) - 2 - 2 * len(seg.changepoints))))
        self._fit_range = float(np.ptp(seg.fitted))
        # The offline floor (eval-set size, its grid, or first differences) bounds the noise the
        # confirmation tests use from below, so the t statistics do not grow on a wandering curve.
        self._floor_sd = seg.floor.sd if seg.floor is not None else 0.0
        self.noise = seg.noise
        return label_phases(seg, direction=self.direction, t_min=self.label_t_min)

    def _candidate(self, phases: list):
        """The first fitted trend phase after the last confirmed one, with a different label. Never a
        plateau: every phase looks like one before it is significant, so a confirmed plateau would
        mostly be the first points of an overfit or a readapt, and would hide it."""
        last = self.events[-1] if self.events else None
        for ph in phases:
            if ph.label == "plateau":
                continue
            if last is None or (ph.start_step > last.start_step and ph.label != last.label):
                return ph
        return None

    def _trend_t(self, cand, before) -> tuple[float, float]:
        """t statistics of the candidate's trend in goodness units: (own, anchored). own: a line
        through its points alone; anchored: its slope from the level where the phase before ends (a
        line through that phase's points alone, so a late knot cannot lift it; its uncertainty
        included), which confirms a slow decline in about two-thirds of the own test's time."""
        x, y = np.asarray(self.steps), self._clean * (1.0 if self.direction == "higher" else -1.0)
        # The larger of two noise estimates: the robust one (MAD of pseudo-residuals) often comes
        # out low on a short prefix, and among many looks the detector would pick those moments.
        sigma = max(noise_sigma(x, y), self._fit_sd, self._floor_sd)
        inside = (x >= cand.start_step) & (x <= cand.end_step)
        xs, ys = x[inside], y[inside]
        sxx = float(np.sum((xs - xs.mean()) ** 2))
        own = float(np.polyfit(xs, ys, 1)[0]) * math.sqrt(sxx) / sigma
        prev = (x >= before.start_step) & (x <= before.end_step) if before is not None else None
        if prev is None or prev.sum() < 3:
            return own, own
        k = cand.start_step
        xp, yp = x[prev] - k, y[prev]
        slope, anchor = np.polyfit(xp, yp, 1)
        var_anchor = sigma**2 * (1 / len(xp) + xp.mean() ** 2 / float(np.sum((xp - xp.mean()) ** 2)))
        u = xs - k
        suu, su = float(u @ u), float(u.sum())
        c = float(u @ (ys - anchor)) / suu
        var_c = sigma**2 / suu + var_anchor * (su / suu) ** 2
        return own, c / math.sqrt(var_c)

    def _trend_agrees(self, cand, before) -> bool:
        """The candidate's trend has its label's sign: anchored at ``t_confirm`` standard errors, its
        own points at ``t_own``. An overfit: at ``t_confirm_overfit``, and beating a plateau at a
        corner of its choosing by ``t_plateau`` (``plateau_z``; module docstring). With
        ``confirm="glr"`` an overfit or readapt passes on its GLR alone (``_glr``)."""
        if self.confirm == "glr" and cand.label in ("overfit", "readapt") and not _from_start(cand, before):
            since = before.start_step if before is not None else cand.start_step
            return self._glr(cand.label, since).stat >= self._glr_h(cand.label)
        own, anchored = self._trend_t(cand, before)
        if cand.label == "overfit" and not _from_start(cand, before):
            return (
                -anchored >= self.t_confirm_overfit
                and -own >= self.t_own
                and self._plateau_z(before if before is not None else cand) >= self.t_plateau
            )
        # A decline from the first evaluation (an early best: ``phases.EARLY_BEST``) has no rise to
        # turn from, so it is tested as a shift is.
        sign = 1.0 if cand.label in ("readapt", "improve") else -1.0
        return sign * anchored >= self.t_confirm and sign * own >= self.t_own

    def _glr(self, label: str, since: float):
        sd = max(self._fit_sd, self._floor_sd)
        return rules.glr_test(self.steps, self.values, self.direction, label, since, sd, self._spike_sd)

    def _glr_confirm(self) -> list[Event]:
        """``confirm="glr"``, at every point: the phase after the last confirmed one (``GLR_NEXT``)
        once its GLR on the points since that one began reaches the threshold; it starts at the
        GLR fit's best (lowest) point."""
        last = self.events[-1] if self.events else None
        label = rules.GLR_NEXT.get(last.label) if last is not None else None
        r = self._glr(label, last.start_step) if label is not None else None
        if r is None or r.best_step is None or r.best_step <= last.start_step or r.stat < self._glr_h(label):
            return []
        level = r.best_level * (1.0 if self.direction == "higher" else -1.0)
        self.events.append(Event(label, r.best_step, self.steps[-1], float(level), self.metric))
        return self.events[-1:]

    def _glr_h(self, label: str) -> float:
        return self.glr_threshold if self.glr_threshold is not None else rules.GLR_THRESHOLDS[label]

    def _plateau_z(self, since) -> float:
        """``plateau_z`` of the points from the start of ``since`` on, in goodness units."""
        x, y = np.asarray(self.steps), self._clean * (1.0 if self.direction == "higher" else -1.0)
        sigma = max(noise_sigma(x, y), self._fit_sd, self._floor_sd)
        w = x >= since.start_step
        return plateau_z(x[w], y[w], sigma)

    def _agreed(self, cand, tol: float) -> int:
        """How many of the latest fits in a row (this one included) have the candidate's phase: the
        same label starting within ``tol`` of it, or anywhere in the plateau just before it (a
        rounded turn: one fit puts the knot where the plateau starts, the next where it ends)."""
        n = 0
        for fit in reversed(self._recent):
            ok = any(
                lab == cand.label and earliest - tol <= cand.start_step <= start + tol
                for lab, earliest, start in fit
            )
            if not ok:
                break
            n += 1
        return n

    def _confirm(self, phases: list) -> list[Event]:
        # Every trend phase of every recent fit counts towards agreement, so a later phase (an
        # overfit) is agreed on while an earlier one (its improve) still waits for its own test.
        self._recent = [*self._recent, offline_reference(phases)][-self.confirmations :]
        out: list[Event] = []
        x = np.asarray(self.steps)
        tol = self.tolerance * (x[-1] - x[0])
        while (cand := self._candidate(phases)) is not None:
            why = self._fails(cand, phases, x, tol)
            if why == "short" and cand.label == "improve" and not self.events and cand.start_step == x[0]:
                # An early peak: a rise of a few evaluations, too short to be tested alone, then the
                # decline. The fit only labels that decline an overfit after an improvement beyond
                # the noise, so the overfit may be confirmed on its own tests while the rise waits.
                after = [p for p in phases if p.start_step > cand.start_step and p.label != "plateau"]
                if after and after[0].label == "overfit" and self._fails(after[0], phases, x, tol) is None:
                    cand, why = after[0], None
            if why is not None:
                break
            note = cand.extra.get("note")
            ev = Event(
                cand.label, float(cand.start_step), float(x[-1]), float(cand.start_value), self.metric, note
            )
            self.events.append(ev)
            out.append(ev)
        return out

    def _fails(self, cand, phases: list, x: np.ndarray, tol: float) -> str | None:
        """Why ``cand`` is not confirmed yet (None: it is): too few fits agree, too few points
        ("short"), too small beside the curve's own movement, or its trend test."""
        inside = (x >= cand.start_step) & (x <= cand.end_step)
        if self._agreed(cand, tol) < self.confirmations:
            return "unagreed"
        if inside.sum() < self.min_phase_points:
            return "short"
        if abs(cand.end_value - cand.start_value) < self.min_effect * self._fit_range:
            return "small"  # significant but too small to matter beside the curve's own movement
        before = max(
            (p for p in phases if p.end_step <= cand.start_step), key=lambda p: p.end_step, default=None
        )
        return None if self._trend_agrees(cand, before) else "trend"


def _from_start(cand, before) -> bool:
    """The candidate is an overfit from the first evaluation (no improvement before it)."""
    return bool(cand.extra.get("note")) and (before is None or before.label == "plateau")
