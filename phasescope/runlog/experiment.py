"""The experiment file, `runs/<name>/experiment.json`: written once, read by training, resume and reports.

    {"name", "config" (resolved), "arms" (one line each), "seeds", "versions" (every package that
     shapes the numbers), "model_revision", "data_revisions" (hub commits or local file hashes),
     "git_commit", "started", "host", "resumed": [times]}

Every reader goes through here: `read_experiment` (the raw record, for reports; {} when absent or
unreadable), `load_experiment_config` (the stored config, validated) and `resume_config` (the config a
`--resume` continues with, refused when the given one differs). Never imports torch.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from phasescope.arms import arm_summary
from phasescope.config import Config, config_from_dict, load_config, parse_override, set_key
from phasescope.data.selection import data_sources, eval_sources
from phasescope.errors import UsageError
from phasescope.runlog.jsonio import read_json
from phasescope.runlog.provenance import provenance
from phasescope.runlog.reader import run_dir_name
from phasescope.runlog.writer import write_json_atomic

EXPERIMENT_FILE = "experiment.json"
RESUME_FREE = ("experiment.workers", "experiment.wandb", "experiment.out", "experiment.name")
"""Where and how a run executes: the only settings a resumed run may change."""


def arm_dir(exp_dir: Path, arm: str, seed: int, world: int = 0) -> Path:
    return Path(exp_dir) / arm / run_dir_name(seed, world)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else `platform`): float kernels, and so the last
    digits of a run, depend on it (docs/results.md)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def write_experiment_json(exp_dir: Path, cfg: Config) -> None:
    # Model and data revisions: a hub commit from the local cache, or a hash of the local files.
    rec = provenance(cfg.model.model_name_or_path, data_sources(cfg.data))
    write_json_atomic(
        Path(exp_dir) / EXPERIMENT_FILE,
        {
            "name": cfg.experiment.name,
            "config": cfg.to_dict(),
            "arms": {a: arm_summary(a, cfg.arms[a]) for a in cfg.experiment.arms},
            "seeds": list(range(cfg.experiment.seeds)),
            "versions": rec["versions"],
            "model_revision": rec["model_revision"],
            "data_revisions": rec["data_revisions"],
            "git_commit": _git_commit(),
            "started": now(),
            "host": {"platform": platform.platform(), "cpus": os.cpu_count(), "cpu": cpu_model()},
        },
    )


def is_world_run(exp: dict[str, Any]) -> bool:
    """Whether an experiment record (`read_experiment`) is an embedded-world run (no model.model_name_or_path)."""
    model = (exp.get("config") or {}).get("model") or {}
    return not (model.get("model_name_or_path") or model.get("name_or_path"))  # TRL's name, the old one


def eval_sets(exp: dict[str, Any]) -> dict[str, str]:
    """A real run's configured held-out sets, name → source (the first gives eval/accuracy); {} for the world."""
    if is_world_run(exp):
        return {}
    return dict(eval_sources(((exp.get("config") or {}).get("data") or {}).get("eval") or []))


def report_config(exp: dict[str, Any]) -> dict[str, Any]:
    """The stored config without the section the run did not use: [world] for a real model, [data]
    for the embedded world (a report shows what shaped the numbers)."""
    config = dict(exp.get("config") or {})
    config.pop("data" if is_world_run(exp) else "world", None)
    return config


def add_launched_arm(exp_dir: Path, cfg: Config, arm: str) -> None:
    """List `arm` in an existing experiment.json: arms launched one after another share the record,
    which the first launch wrote."""
    meta = read_experiment(exp_dir)
    if meta and arm not in (meta.get("arms") or {}):
        meta.setdefault("arms", {})[arm] = arm_summary(arm, cfg.arms[arm])
        write_json_atomic(Path(exp_dir) / EXPERIMENT_FILE, meta)


def find_experiment(path, levels: int = 1) -> Path | None:
    """The experiment.json of `path` (a directory or a file in it), looking up to `levels` parents."""
    p = Path(path)
    start = p if p.is_dir() else p.parent
    for cand in [start, *start.parents][: levels + 1]:
        if (cand / EXPERIMENT_FILE).is_file():
            return cand / EXPERIMENT_FILE
    return None


# The record's fields and their types; a field of another type (hand-edited, or another tool's file)
# is dropped when read, so a reader of the record never meets a list where a table was.
RECORD_TYPES = {
    "name": str,
    "config": dict,
    "arms": dict,
    "seeds": list,
    "versions": dict,
    "model_revision": str,
    "data_revisions": dict,
    "git_commit": str,
    "started": str,
    "host": dict,
    "resumed": list,
}


def read_experiment(path, levels: int = 0, notes: list[str] | None = None) -> dict[str, Any]:
    """The experiment record of `path` (see `find_experiment`); {} when absent or unreadable. Fields
    of the wrong type are dropped (and config sections that are not tables); when `notes` is given,
    what was dropped or why the file was unreadable is said there."""
    found = find_experiment(path, levels)
    if found is None:
        return {}
    said = notes if notes is not None else []
    try:
        data = read_json(found)
    except UsageError as exc:
        said.append(f"{exc}; its record (config, eval-set size) is not used")
        return {}
    if not isinstance(data, dict):
        said.append(f"{found} holds a {type(data).__name__}, not a record; it is not used")
        return {}
    odd = [
        k for k, t in RECORD_TYPES.items() if k in data and data[k] is not None and not isinstance(data[k], t)
    ]
    clean = {k: v for k, v in data.items() if k not in odd}
    config = clean.get("config") or {}
    odd += [f"config.{k}" for k, v in config.items() if not isinstance(v, dict)]
    clean["config"] = {k: v for k, v in config.items() if isinstance(v, dict)}
    if odd:
        said.append(f"{found}: ignored field(s) of an unexpected type: {', '.join(map(str, odd[:6]))}")
    return clean


def _require(exp_dir: Path) -> Path:
    path = Path(exp_dir) / EXPERIMENT_FILE
    if not path.is_file():
        raise UsageError(f"nothing to resume: {exp_dir} has no experiment.json; start it without --resume")
    return path


def load_experiment_config(exp_dir: Path) -> Config:
    path = Path(exp_dir) / EXPERIMENT_FILE
    if not path.is_file():
        raise UsageError(f"{exp_dir} has no experiment.json: it is not a phasescope run directory")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        data = meta["config"]
        if not isinstance(data, dict):
            raise TypeError("config is not a table")
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is unreadable or not a phasescope experiment ({exc.msg} at line {exc.lineno}); "
            "start a new run with --overwrite or another --name"
        ) from None
    except (OSError, ValueError, RecursionError, KeyError, TypeError) as exc:  # bad UTF-8, huge int, nesting
        raise UsageError(
            f"{path} is unreadable or not a phasescope experiment ({type(exc).__name__}); "
            "start a new run with --overwrite or another --name"
        ) from None
    try:
        return config_from_dict(data)
    except UsageError as exc:
        raise UsageError(f"{path}: stored config is invalid ({exc}); start a new run") from None
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:  # a hand-edited file
        why = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
        raise UsageError(f"{path}: stored config is invalid ({why}); start a new run") from None


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_diff(new: Config, old: Config) -> list[str]:
    """Flat keys ("train.learning_rate") whose values differ, except the RESUME_FREE ones (sorted)."""
    a, b = _flat(new.to_dict()), _flat(old.to_dict())
    return sorted(k for k in a.keys() | b.keys() if k not in RESUME_FREE and a.get(k) != b.get(k))


def resume_config(
    exp_dir: Path,
    config_path: str | Path | None = None,
    overrides: list[str] | None = None,
    selection: dict[str, Any] | None = None,
) -> Config:
    """The config a `--resume` continues with: the one stored in experiment.json.

    `selection` holds the command line's options that are not config values, each None when not
    given: "arms" and "seeds" choose what to resume (among the stored arms and seeds), "workers" and
    "wandb" how it runs; they never rebuild the config. Only a config file (`config_path`) or
    `overrides` (`--set` texts, applied to the stored config) can differ from it, and then the
    UsageError names every key that differs: a resumed arm must train exactly as it started.
    """
    _require(exp_dir)
    stored = load_experiment_config(exp_dir)
    if config_path is not None or overrides:
        given = (
            load_config(config_path, overrides)
            if config_path is not None
            else _with_overrides(stored, overrides)
        )
        diff = config_diff(given, stored)
        if diff:
            old, new = _flat(stored.to_dict()), _flat(given.to_dict())
            shown = ", ".join(f"{k} ({old.get(k)!r} stored, {new.get(k)!r} given)" for k in diff)
            raise UsageError(
                f"--resume: the given config differs from {Path(exp_dir) / EXPERIMENT_FILE} in {shown}; "
                "resume without a config file or --set (the stored config is used), or start a new run"
            )
    d = stored.to_dict()
    chosen = {k: v for k, v in (selection or {}).items() if v is not None}
    _check_selection(chosen, d["experiment"], exp_dir)
    d["experiment"].update(chosen, out=str(Path(exp_dir).parent), name=Path(exp_dir).name)
    return config_from_dict(d)


def _with_overrides(stored: Config, overrides: list[str]) -> Config:
    data = stored.to_dict()
    for text in overrides:
        keys, value = parse_override(text)
        set_key(data, keys, value, text)
    return config_from_dict(data)


def _check_selection(chosen: dict[str, Any], stored: dict[str, Any], exp_dir: Path) -> None:
    """`--arms` / `--seeds` with --resume pick among what the run holds; they cannot add to it."""
    extra = [a for a in chosen.get("arms", []) if a not in stored["arms"]]
    if extra:
        raise UsageError(
            f"--resume --arms: {', '.join(extra)} not in the run {exp_dir} (its arms: {', '.join(stored['arms'])}); "
            "a resumed run trains only what it started"
        )
    if chosen.get("world_seeds", 0) > stored.get("world_seeds", 1):
        raise UsageError(
            f"--resume --world-seeds {chosen['world_seeds']}: the run {exp_dir} has "
            f"{stored.get('world_seeds', 1)} world draw(s); a resumed run trains only what it started"
        )
    if chosen.get("seeds", 0) > stored["seeds"]:
        raise UsageError(
            f"--resume --seeds {chosen['seeds']}: the run {exp_dir} has {stored['seeds']} seed(s) per arm; "
            "a resumed run trains only what it started"
        )


def note_resumed(cfg: Config, exp_dir: Path) -> None:
    """Check that `exp_dir` can be resumed and note the resumption (and its execution settings)."""
    path = _require(exp_dir)
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.setdefault("resumed", []).append(now())
    # Only where and how it ran: --arms/--seeds chose what to resume, the run still holds them all.
    free = {k.split(".")[1] for k in RESUME_FREE}
    meta["config"]["experiment"].update({k: v for k, v in cfg.to_dict()["experiment"].items() if k in free})
    write_json_atomic(path, meta)
