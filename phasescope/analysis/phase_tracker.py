"""``PhaseTracker``: the one adapter between a stream of logged rows and an ``OnlineDetector``, so
that the trainer (chord_phase's μ), ``PhaseCallback``, the two-stage auto switch and ``phasescope
watch`` log one set of ``phase/*`` names (listed in ``online``'s module docstring)."""

from __future__ import annotations

import numpy as np

from phasescope.analysis.online import PHASE_CODES, Event, OnlineDetector


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class PhaseTracker:
    """The one adapter between a stream of logged rows and an ``OnlineDetector``: the ``phase/*`` values
    of each row that holds the watched metric (see the module docstring for the names).

    Used by the trainer (chord_phase's μ), ``PhaseCallback``, the two-stage auto switch and
    ``phasescope watch``. ``update(step, value)`` returns the row's values (empty when ``value`` is not
    a number); ``new`` holds the events that row confirmed and ``first`` each label's first confirmed
    event. ``detector`` may be given ready-made (a subclass with another candidate rule); otherwise
    one is built from ``metric``, ``direction`` and ``detector_kwargs``.
    """

    def __init__(
        self,
        metric: str | None = None,
        direction: str | None = None,
        *,
        detector: OnlineDetector | None = None,
        **detector_kwargs,
    ):
        self.detector = (
            detector if detector is not None else OnlineDetector(metric, direction, **detector_kwargs)
        )
        self.new: list[Event] = []
        self.first: dict[str, Event] = {}

    @property
    def metric(self) -> str | None:
        return self.detector.metric

    @property
    def direction(self) -> str:
        return self.detector.direction

    @property
    def events(self) -> list[Event]:
        return self.detector.events

    def update(self, step: float, value) -> dict[str, float]:
        """Feed one logged point; the ``phase/*`` values of its row."""
        if not _is_number(value):
            self.new = []
            return {}
        self.new = self.detector.update(step, float(value))
        for ev in self.new:
            self.first.setdefault(ev.label, ev)
        return self.row()

    def row(self) -> dict[str, float]:
        """The ``phase/*`` values as they stand (with the last update's start and lag values)."""
        d = self.detector
        out = {"phase/code": float(PHASE_CODES.get(d.phase, 0)), "phase/events": float(len(d.events))}
        if d.best is not None:
            out["phase/best_step"], out["phase/best_value"] = (float(x) for x in d.best)
        for ev in self.new:
            out[f"phase/{ev.label}_start_step"] = ev.start_step
            out[f"phase/{ev.label}_lag"] = ev.lag
        for label, ev in self.first.items():
            out[f"phase/{label}_confirmed_step"] = ev.confirmed_step
        return out

    def state_dict(self) -> dict:
        """JSON-ready (a checkpoint's callback state): the detector's; ``first`` follows from its events."""
        return {"detector": self.detector.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.detector.load_state_dict(state["detector"])
        self.new, self.first = [], {}
        for ev in self.detector.events:
            self.first.setdefault(ev.label, ev)
