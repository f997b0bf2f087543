"""Read W&B runs through the public API: one run, or a grouped experiment read as one experiment.

- ``wandb:<entity>/<project>/<run_id>`` (or the run's URL, ``.../runs/<run_id>``): one run, named
  by its id, no seed.
- ``wandb:<entity>/<project>/<group>`` (or the group's URL, ``.../groups/<group>``): every run of
  the group, as a phasescope experiment directory reads: arm = the run's job type (its name when it
  has none), seed = the run's ``seed`` config value, else the ``seed<k>`` ending of its name, else
  its place among the arm's runs. The ``analysis`` run phasescope's mirror adds to a group is not a
  training run and is left out. A bare third part is tried as a group first, then as a run id.

Rows come from ``Run.scan_history()``, which pages through every logged row; ``Run.history()`` is
documented by W&B as *sampled* (500 rows by default) and drops points on long runs. The step is
``step`` (what phasescope logs), else ``train/global_step`` (Hugging Face Trainer/TRL), else
``trainer/global_step`` (Lightning), else ``global_step``, else W&B's own ``_step``; ``--step-col``
overrides it. Runs are read in creation order, so when a resumed arm was split across two runs the
later run's value wins at a step both logged (``clean_frame`` keeps the last one).

wandb is imported only when a ``wandb:`` source is read; no credentials is a one-line UsageError
before any network call.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from phasescope.errors import PhasescopeError, UsageError
from phasescope.runlog.records import COLUMNS, records_to_long
from phasescope.runlog.wandb_mirror import has_credentials

WANDB_STEP_COLUMNS = ("step", "train/global_step", "trainer/global_step", "global_step", "_step")
"""Step columns of a W&B history row, tried in order (the first present in the run's rows wins)."""

ANALYSIS_JOB_TYPE = "analysis"
_SEED_NAME = re.compile(r"seed[_-]?(\d+)$")


@dataclass(frozen=True)
class WandbSource:
    project: str
    """``entity/project``."""
    name: str
    """A run id or a group name."""
    kind: str
    """"run", "group", or "either" (a bare third part: tried as a group, then as a run id)."""

    @property
    def slug(self) -> str:
        """`entity-project-name`: a local folder name for what is read (e.g. its analysis)."""
        return f"{self.project.replace('/', '-')}-{self.name}"


def parse_wandb_spec(spec: str) -> WandbSource:
    """``wandb:entity/project/x``, ``.../runs/<id>``, ``.../groups/<group>`` or a wandb.ai URL."""
    path = spec.removeprefix("wandb:").strip("/")
    if "wandb.ai/" in path:  # https://wandb.ai/<entity>/<project>/runs/<id> or /groups/<group>
        path = path.split("wandb.ai/", 1)[1].split("?")[0].strip("/")
    parts = path.split("/")
    kind = "either"
    if len(parts) == 4 and parts[2] in ("runs", "groups"):
        kind = "run" if parts[2] == "runs" else "group"
        parts = [parts[0], parts[1], parts[3]]
    if len(parts) != 3 or not all(parts):
        raise UsageError(
            f"W&B source {spec!r} must look like wandb:<entity>/<project>/<run_id> "
            "or wandb:<entity>/<project>/<group>"
        )
    return WandbSource(f"{parts[0]}/{parts[1]}", parts[2], kind)


def wandb_api():
    """``wandb.Api()``, or a one-line UsageError when wandb or credentials are missing."""
    try:
        import wandb
    except ImportError:
        raise UsageError(
            "reading W&B runs needs the wandb package: pip install 'phasescope[wandb]'"
        ) from None
    if not has_credentials():  # the one credential check, shared with the mirror
        raise UsageError(
            "no W&B credentials (run `wandb login` or set WANDB_API_KEY), or export the run's history "
            "as CSV from the W&B UI and pass that file"
        )
    return wandb.Api()


def _api_error(what: str, exc: Exception) -> PhasescopeError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return PhasescopeError(f"could not read W&B {what}: {first}")


def find_runs(src: WandbSource, api) -> tuple[list, bool]:
    """(runs, is_group): the group's training runs in creation order, or the one run."""
    if src.kind in ("group", "either"):
        try:
            runs = list(api.runs(src.project, filters={"group": src.name}, order="+created_at"))
        except Exception as exc:  # network, auth, unknown project
            raise _api_error(f"group {src.project}/{src.name}", exc) from None
        runs = [r for r in runs if getattr(r, "job_type", None) != ANALYSIS_JOB_TYPE]
        if runs or src.kind == "group":
            if not runs:
                raise PhasescopeError(f"W&B group {src.name!r} in {src.project} has no training runs")
            return runs, True
    try:
        return [api.run(f"{src.project}/{src.name}")], False
    except Exception as exc:  # not found, network, auth
        what = "run" if src.kind == "run" else "group or run"
        raise _api_error(f"{what} {src.project}/{src.name}", exc) from None


def run_seeds(runs: list) -> list[tuple[str, int | None]]:
    """(arm, seed) of each run of a group: arm = job type, seed from config, name, or order."""
    out: list[tuple[str, int | None]] = []
    used: Counter = Counter()
    for run in runs:
        arm = getattr(run, "job_type", None) or run.name
        seed = (run.config or {}).get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int):
            m = _SEED_NAME.search(run.name or "")
            seed = int(m.group(1)) if m else used[arm]
        used[arm] += 1
        out.append((arm, seed))
    return out


def pick_step_col(rows: list[dict], step_col: str | None) -> str | None:
    """``step_col`` when given, else the first of WANDB_STEP_COLUMNS the rows hold (None: none)."""
    if step_col:
        return step_col
    keys = {k for r in rows for k in r}
    return next((c for c in WANDB_STEP_COLUMNS if c in keys), None)


def read_wandb(spec: str, step_col: str | None = None, api=None) -> tuple[pd.DataFrame, list[str]]:
    """The long frame (run, seed, step, metric, value, source) and notes of a W&B run or group."""
    src = parse_wandb_spec(spec)
    api = api if api is not None else wandb_api()
    runs, is_group = find_runs(src, api)
    ids = run_seeds(runs) if is_group else [(runs[0].id or src.name, None)]
    parts, notes = [], []
    for run, (name, seed) in zip(runs, ids):
        where = f"wandb:{src.project}/{run.id}"
        try:
            rows = [dict(r) for r in run.scan_history()]
        except Exception as exc:  # network errors surface while paging
            raise _api_error(f"run {src.project}/{run.id}", exc) from None
        if not rows:
            notes.append(f"{where} ({name}) has no logged rows; skipped")
            continue
        long, more = records_to_long(rows, pick_step_col(rows, step_col), name, seed, where)
        parts.append(long)
        notes += more
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return frame, notes


def experiment_config(spec: str, api=None) -> dict | None:
    """The resolved phasescope config a mirrored group's runs carry (experiment.json's "config"),
    or None for a single run or a run without one."""
    src = parse_wandb_spec(spec)
    runs, is_group = find_runs(src, api if api is not None else wandb_api())
    if not is_group:
        return None
    cfg = dict(runs[0].config or {})
    for key in ("arm_name", "seed"):  # per-run additions of the mirror, not part of the config
        cfg.pop(key, None)
    return cfg or None
