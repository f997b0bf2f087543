"""Experiment configuration: dataclasses validated on construction, TOML files, `--set` overrides.

An experiment is a TOML file (see `experiments/default.toml`) whose tables mirror the dataclasses
below; every field has a default, so an empty file is the embedded default. `--set a.b=value`
overrides one field (values are parsed as TOML literals, so `--set train.learning_rate=1e-4` is a float and
`--set experiment.arms=["sft","rl"]` a list). Unknown keys, wrong types and impossible values are
`UsageError`s with one-line messages. The resolved config is saved as `experiment.json`.

A renamed key is listed in `RENAMED_KEYS`: the old name is still accepted for one release, with a
one-line deprecation note on stderr. What the arm knobs mean lives in `phasescope.arms`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from phasescope.arms import SCHEDULES, is_two_stage, needs_expert
from phasescope.arms.world_rates import with_world_rates
from phasescope.config_sections import (
    ArmConfig,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    TrainConfig,
    WorldConfig,
    _check,
    default_arms,
)
from phasescope.errors import UsageError
from phasescope.trl_table import check_trl_table

__all__ = [
    "ArmConfig",
    "Config",
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "TrainConfig",
    "WorldConfig",
    "config_from_dict",
    "default_arms",
    "load_config",
    "parse_override",
]

RENAMED_KEYS: dict[str, str] = {
    # old "section.key" → new "section.key"; accepted for one release, with a deprecation note
    "world.pretrain_sub_share": "world.pretrain_general_share",
    # TRL's / transformers' names (issue 14), so that a TRL user's habits carry over
    "train.steps": "train.max_steps",
    "train.lr": "train.learning_rate",
    "train.grad_clip": "train.max_grad_norm",
    "train.clip_range": "train.epsilon",
    "train.eval_every": "train.eval_steps",
    "train.checkpoint_every": "train.save_steps",
    "model.name_or_path": "model.model_name_or_path",
}


@dataclass
class Config:
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    world: WorldConfig = field(default_factory=WorldConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    arms: dict[str, ArmConfig] = field(default_factory=default_arms)
    data: DataConfig = field(default_factory=DataConfig)
    trl: dict[str, Any] = field(default_factory=dict)
    """GRPOConfig fields passed through as they are (see phasescope/trl_table.py for what is refused)."""

    def __post_init__(self):
        check_trl_table(self.trl)
        if (
            self.train.eval_early_every is None
        ):  # dense early evaluation: cheap in the world, not on a real model
            self.train.eval_early_every = 0 if self.model.model_name_or_path else 5
        if not self.model.model_name_or_path and self.world.tuned_rates:  # the world's, not a real model's
            self.arms = with_world_rates(self.arms)
        if self.model.model_name_or_path:
            _check(
                bool(self.data.rl_prompts or self.data.expert),
                "model.model_name_or_path is set but [data] names no rl_prompts or expert source",
            )
        else:
            _check(
                not (self.data.rl_prompts or self.data.expert or self.data.eval or self.data.dev),
                "[data] sources need a real model: set model.model_name_or_path (the embedded world has its own data)",
            )
        for arm in self.experiment.arms:
            _check(arm in self.arms, f"unknown arm {arm!r}; defined arms: {', '.join(self.arms)}")
        for name in self.experiment.arms:
            arm = self.arms[name]
            problem = SCHEDULES[arm.schedule].check(name, arm, self.train.max_steps)
            _check(problem is None, problem or "")
            _check(
                not (
                    self.train.stage_budget == "within"
                    and isinstance(arm.sft_steps, int)
                    and is_two_stage(arm)
                    and arm.sft_steps >= self.train.max_steps
                ),
                f"arms.{name}.sft_steps = {arm.sft_steps} leaves no RL update of train.max_steps = "
                f'{self.train.max_steps} (train.stage_budget = "within"): lower it, or raise max_steps',
            )
            _check_untempered(name, arm, self.train)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data; an expert_batch_size derived from train.expert_data_ratio is left
        out (it is recomputed, the same, when the dict is read back), so that the dict reads back."""
        data = dataclasses.asdict(self)
        if self.train.expert_data_ratio is not None:
            del data["train"]["expert_batch_size"]
        return data


def _check_untempered(name: str, arm: ArmConfig, train: TrainConfig) -> None:
    # TRL's fused LM head divides the logits by the rollout temperature for every log-probability it
    # computes, the expert rows' included; φ = p(1 − p) and the expert NLL are defined on the model's own p.
    _check(
        train.temperature == 1.0 or not needs_expert(arm, train.max_steps),
        f"train.temperature = {train.temperature:g} would temper the expert term of arm {name} (φ and the "
        "expert NLL need the model's own, untempered p); use train.temperature = 1, or only arms without "
        "expert rows",
    )


def _check_one_expert_size(table: dict) -> None:
    """Expert rows per update are given once: as a number or as a share of the rollouts."""
    if table.get("expert_data_ratio") is not None and "expert_batch_size" in table:
        raise UsageError(
            "train.expert_batch_size and train.expert_data_ratio are both set; set one (the ratio gives "
            "round(ratio × prompts_per_step × num_generations) expert rows per update)"
        )


# --- building dataclasses from untrusted dicts --------------------------------------------------


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is list:
        (inner,) = typing.get_args(tp)
        return isinstance(value, list) and all(_type_ok(v, inner) for v in value)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _renamed(data: dict, where: str, noted: list[str]) -> dict:
    """`data` with every deprecated key of section `where` under its new name; each is added to `noted`."""
    out = dict(data)
    for old, new in RENAMED_KEYS.items():
        section, _, old_key = old.rpartition(".")
        new_key = new.rpartition(".")[2]
        if section != where or old_key not in out:
            continue
        if new_key in out:
            raise UsageError(f"{where} sets both {old} and its new name {new}; keep {new}")
        noted.append(f"{old} → {new}")
        out[new_key] = out.pop(old_key)
    return out


def _build(cls, data: Any, where: str, noted: list[str]):
    if not isinstance(data, dict):
        raise UsageError(f"[{where}] must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in _renamed(data, where, noted).items():
        if key not in names:
            raise UsageError(f"unknown config key {where}.{key}; known keys: {', '.join(sorted(names))}")
        tp = hints[key]
        if not _type_ok(value, tp):
            raise UsageError(f"{where}.{key} must be {_type_name(tp)}, got {value!r}")
        if (isinstance(value, float) and not math.isfinite(value)) or (tp is float and abs(value) > 1e308):
            raise UsageError(f"{where}.{key} must be a finite number, got {value!r}")
        kwargs[key] = float(value) if tp is float else value
    try:
        return cls(**kwargs)
    except UsageError as exc:
        msg = str(exc)
        raise UsageError(msg if msg.startswith(where) else f"{where}.{msg}") from None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def config_from_dict(data: dict[str, Any]) -> Config:
    sections = {
        "experiment": ExperimentConfig,
        "world": WorldConfig,
        "model": ModelConfig,
        "train": TrainConfig,
        "data": DataConfig,
    }
    kwargs: dict[str, Any] = {}
    noted: list[str] = []
    for key, value in data.items():
        if key in sections:
            if key == "train" and isinstance(value, dict):
                _check_one_expert_size(value)
            kwargs[key] = _build(sections[key], value, key, noted)
        elif key == "trl":
            if not isinstance(value, dict):
                raise UsageError("[trl] must be a table of GRPOConfig fields")
            kwargs["trl"] = dict(value)
        elif key == "arms":
            if not isinstance(value, dict):
                raise UsageError("[arms] must be a table of arm tables")
            arms = default_arms()
            for name, table in value.items():
                base = dataclasses.asdict(arms[name]) if name in arms else {}
                if not isinstance(table, dict):
                    raise UsageError(f"[arms.{name}] must be a table")
                arms[name] = _build(ArmConfig, {**base, **table}, f"arms.{name}", noted)
            kwargs["arms"] = arms
        else:
            raise UsageError(
                f"unknown config section [{key}]; known: {', '.join([*sections, 'arms', 'trl'])}"
            )
    if noted:  # one line for all of them: an old config is not a wall of warnings
        print(f"note: deprecated config keys, renamed: {', '.join(noted)}", file=sys.stderr)
    return Config(**kwargs)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`section.key=value` → (["section", "key"], value), the value read as a TOML literal."""
    if "=" not in text:
        raise UsageError(f"--set {text!r} must look like section.key=value")
    path, raw = text.split("=", 1)
    keys = path.strip().split(".")
    if len(keys) < 2 or not all(keys):
        raise UsageError(f"--set {text!r}: the key must be section.key (e.g. train.learning_rate=1e-4)")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word such as a path or an arm name
    return keys, value


def set_key(data: dict, keys: list[str], value: Any, shown: str) -> None:
    """Set data[k1][k2]... = value (tables made as needed); `shown` names the setting in an error."""
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise UsageError(f"--set {shown!r}: {k} is not a table")
    node[keys[-1]] = value


def _read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"config file {str(p)!r} is a directory; give the path of a TOML file")
    if not p.is_file():
        raise UsageError(f"config file {str(p)!r} does not exist")
    try:
        return tomllib.loads(p.read_text())
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, bad UTF-8, an integer too long, nesting
        raise UsageError(f"config file {str(p)!r} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"config file {str(p)!r} cannot be read: {exc.strerror}") from None


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    values: dict[str, Any] | None = None,
) -> Config:
    """Read a TOML experiment (or the defaults when `path` is None) and apply the overrides.

    `overrides` are `--set section.key=value` texts; `values` maps "section.key" to typed values
    (the CLI's own options), applied after them as they are, never re-serialised.
    """
    data: dict[str, Any] = _read_toml(path) if path is not None else {}
    for text in overrides or []:
        keys, value = parse_override(text)
        set_key(data, keys, value, text)
    for key, value in (values or {}).items():
        set_key(data, key.split("."), value, key)
    return config_from_dict(data)
