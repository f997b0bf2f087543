"""Mirror the run directory to Weights & Biases: the metrics of every (arm, seed) during training.

The local run directory stays the record; W&B is a copy for people whose dashboards live there.
So nothing here may stop training or lose a row: every W&B failure (wandb not installed, no
network, no or bad API key, a W&B bug) prints one warning and turns the mirror into a no-op.

Layout on W&B: one run per (arm, seed), ``group`` = experiment name, ``job_type`` = arm, name
``<arm>/seed<k>``, tags (arm, world or model, phasescope version), the resolved config attached,
metrics under their metrics.jsonl names with ``step`` as the step metric; metrics whose name says
higher is better keep their max in the summary, lower-is-better ones their min (and both their last).

Resume: the run id is derived from the experiment (name and start time), the arm and the seed
(`run_id`), and W&B is opened with ``resume="allow"``, so `phasescope run --resume` continues the
same W&B run. It learns the last step the W&B run holds (online: the resumed run's summary;
offline: the earlier ``offline-run-*-<id>`` files of the same id, read by `runlog/wandb_offline.py`;
``wandb sync`` merges them into one run), first sends the rows of the kept metrics.jsonl after it
(`catch_up`: a kill can lose what wandb had not yet written), then never sends a step at or before
it again (the steps between the last checkpoint and a kill are trained twice).

The analysis after training is uploaded by ``phasescope.report.wandb_upload`` (it renders an
analysis, which this layer below analysis never imports).

Mode: ``off`` (default), ``offline`` (writes ``wandb/offline-run-*`` for ``wandb sync``) or
``online``. An explicit ``off`` always wins; otherwise ``WANDB_MODE=offline`` or ``disabled`` in
the environment downgrades the mode (so a cluster that forbids uploads is obeyed).
``WANDB_PROJECT`` (default "phasescope"), ``WANDB_ENTITY`` and ``WANDB_DIR`` are honoured. wandb is
imported lazily, only when a mirror is switched on.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from phasescope.runlog.names import infer_direction
from phasescope.runlog.wandb_offline import logged_steps

MODES = ("off", "offline", "online")
_IN_USE_TRIES = 20


def _warn(msg: str) -> None:
    print(
        f"warning: W&B mirror disabled: {msg}; training and the local run directory are unaffected",
        file=sys.stderr,
    )


def resolve_mode(mode: str | None) -> str:
    """The effective mode: ``off`` wins, then WANDB_MODE=disabled/offline downgrade the request."""
    mode = (mode or "off").lower()
    if mode not in MODES:
        raise ValueError(f"W&B mode must be one of {', '.join(MODES)}, not {mode!r}")
    env = os.environ.get("WANDB_MODE", "").strip().lower()
    if mode == "off" or env in ("disabled", "off"):
        return "off"
    if env in ("offline", "dryrun"):
        return "offline"
    return mode


def has_credentials() -> bool:
    """An API key in the environment or a netrc entry for the W&B host. Checked before an online
    init so a worker never sits at a login prompt."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def run_id(experiment: str, started: str, arm: str, seed: int) -> str:
    """A W&B run id that names one (arm, seed) of one experiment directory: the same after --resume,
    a new one after --overwrite (a new start time). Letters, digits and dashes, at most 64 characters."""
    digest = hashlib.sha1(f"{experiment}|{started}|{arm}|{seed}".encode()).hexdigest()[:12]
    readable = re.sub(r"[^a-z0-9]+", "-", f"{experiment}-{arm}-seed{seed}".lower()).strip("-")[:48]
    return f"{readable}-{digest}"


def summary_of(name: str) -> str | None:
    """The W&B summary of a metric: its best value (max or min, by what the name says is better) and
    its last, or None (last only) when the name does not say, or names a spread (``reward_std``)."""
    direction = infer_direction(name)
    if direction is None or "std" in name.lower():
        return None
    return "max,last" if direction == "higher" else "min,last"


def _numeric(row: dict[str, Any]) -> dict[str, float]:
    """W&B charts numbers; strings such as ``stage`` stay in metrics.jsonl."""
    out = {}
    for k, v in row.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            continue
        out[k] = v
    return out


class WandbMirror:
    """Copies metrics rows to one W&B run; a no-op when off or after any failure.

    With `run_id`, the run is opened with ``resume="allow"``: a second mirror with the same id
    continues the run, and rows at or before the last step it already holds are not sent again."""

    def __init__(
        self,
        mode: str | None,
        *,
        group: str,
        job_type: str,
        name: str,
        config: dict | None = None,
        dir: str | os.PathLike | None = None,
        project: str | None = None,
        entity: str | None = None,
        run_id: str | None = None,
        tags: list[str] | None = None,
        warn=_warn,
    ):
        self.run = None
        self.mode = resolve_mode(mode)
        self._warn = warn
        self._defined: set[str] = set()
        self.sent_through: float | None = None
        """The last step the W&B run held when this mirror opened it (rows up to it are skipped)."""
        if self.mode == "off":
            return
        if self.mode == "online" and not has_credentials():
            self._fail("online mode needs WANDB_API_KEY or `wandb login` (use --wandb offline to sync later)")
            return
        init = dict(group=group, job_type=job_type, name=name, config=config or {}, tags=tags, id=run_id)
        try:
            self._open(init, dir, project, entity)
            self.sent_through = self._last_step(run_id) if run_id else None
        except ImportError:
            self._fail("wandb is not installed (pip install 'phasescope[wandb]')")
        except Exception as exc:  # noqa: BLE001 - any W&B failure must not reach training
            self._fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")

    def _open(self, init: dict, dir, project: str | None, entity: str | None) -> None:
        import wandb

        wdir = os.environ.get("WANDB_DIR") or (str(dir) if dir else None)
        if wdir:
            Path(wdir).mkdir(parents=True, exist_ok=True)
        kwargs = dict(
            project=project or os.environ.get("WANDB_PROJECT") or "phasescope",
            entity=entity or os.environ.get("WANDB_ENTITY") or None,
            mode=self.mode,
            dir=wdir,
            resume="allow" if init.get("id") else None,
            reinit="create_new",
            settings=wandb.Settings(silent=True, init_timeout=60, console="off"),
            **init,
        )
        for attempt in range(_IN_USE_TRIES):
            try:
                self.run = wandb.init(**kwargs)
                break
            except Exception as exc:  # noqa: BLE001
                # the same id just finished in this process and its stream is still closing
                if "is in use" not in str(exc) or attempt == _IN_USE_TRIES - 1:
                    raise
                time.sleep(0.5)
        self.run.define_metric("step")
        self.run.define_metric("*", step_metric="step")

    def _last_step(self, run_id: str) -> float | None:
        """The last `step` the run already holds: the resumed run's summary online, the earlier
        offline files of the same id offline; None for a new run."""
        if self.mode == "online":
            last = self.run.summary.get("step")
            return last if isinstance(last, int | float) else None
        runs_dir = Path(self.run.dir).parents[1]  # <dir>/wandb/offline-run-<time>-<id>/files
        steps = [s for f in sorted(runs_dir.glob(f"*-{run_id}/run-{run_id}.wandb")) for s in logged_steps(f)]
        return max(steps) if steps else None

    @property
    def active(self) -> bool:
        return self.run is not None

    def _fail(self, msg: str) -> None:
        if self.run is not None:
            try:
                self.run.finish(exit_code=1)
            except Exception:  # noqa: BLE001
                pass
        self.run = None
        self._warn(msg)

    def log(self, row: dict[str, Any]) -> None:
        if self.run is None:
            return
        step = row.get("step")
        if self.sent_through is not None and isinstance(step, int | float) and step <= self.sent_through:
            return  # the run already has this step (sent before a kill, trained again after --resume)
        try:
            values = _numeric(row)
            for key in values.keys() - self._defined:
                if summary_of(key):
                    self.run.define_metric(key, step_metric="step", summary=summary_of(key))
                self._defined.add(key)
            self.run.log(values)
        except Exception as exc:  # noqa: BLE001
            self._fail(f"log failed ({type(exc).__name__}: {exc})")

    def catch_up(self, rows: list[dict[str, Any]]) -> None:
        """Send the rows of a resumed run's metrics.jsonl that the W&B run lacks (a kill can lose what
        wandb had not yet written), so that W&B holds every step once before training continues."""
        for row in rows:
            self.log(row)

    def finish(self, exit_code: int = 0) -> None:
        if self.run is None:
            return
        run, self.run = self.run, None
        try:
            run.finish(exit_code=exit_code)
        except Exception as exc:  # noqa: BLE001
            self._warn(f"finish failed ({type(exc).__name__}: {exc})")


def mirror_rows(write, mirror: WandbMirror):
    """An ``on_row`` that writes the local row first, then copies it to W&B (never the reverse)."""

    def on_row(row: dict[str, Any]) -> None:
        write(row)
        mirror.log(row)

    return on_row
