"""`phasescope tune`: per arm, a search over its learning rate(s) and its own knobs, scored on the dev split.

- `space.py`: the knobs per arm (data, derived from the arm's schedule) and their ranges;
- `objective.py`: one trial, trained by `phasescope run`'s path with no held-out evaluation, its score;
- `study.py`: the Optuna study per arm in a SQLite file (resumable), asked one trial at a time;
- `outputs.py`, `figure.py`, `tomlfile.py`: summary.md/json, the knob figures, best.toml;
- `tuner.py`: the whole command as a library call, `tune(TuneRequest(...))`.

See docs/tuning.md.
"""

from phasescope.tune.tuner import TuneRequest, TuneResult, tune

__all__ = ["TuneRequest", "TuneResult", "tune"]
