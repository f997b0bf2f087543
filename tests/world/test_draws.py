"""World draws (`experiment.world_seeds`): each draw is the configured world with `world.seed` + w, and
every base built now stops on two dev checks in three at the target, which one lucky check cannot meet."""

import json
from pathlib import Path

import pytest

from phasescope.config import load_config
from phasescope.errors import UsageError
from phasescope.world import base as base_mod
from phasescope.world import draw_config, draw_world, world_splits
from phasescope.world.task import expert_responses


def _shipped_history() -> list[float]:
    meta = json.loads((base_mod.SHIPPED_DIR / "phasescope_base.json").read_text())
    return [acc for _, acc in meta["history"]]


def test_the_stop_rule_on_hand_made_checks():
    assert base_mod.stop_reached([0.30, 0.41], 0.4, 1)  # the single-check rule: the last one decides
    assert not base_mod.stop_reached([0.30, 0.41], 0.4, 3)  # one hit
    assert not base_mod.stop_reached([0.348, 0.391, 0.504], 0.4, 3)  # one spike (its mean, 0.414, would stop)
    assert not base_mod.stop_reached([0.45, 0.42, 0.39], 0.4, 3)  # the last check (the saved model) missed
    assert base_mod.stop_reached([0.41, 0.30, 0.40], 0.4, 3) and base_mod.stop_reached(
        [0.20, 0.40, 0.41], 0.4, 3
    )
    assert not base_mod.stop_reached([0.41, 0.30, 0.30, 0.42], 0.4, 3)  # the other hit is four checks back
    assert not base_mod.stop_reached([], 0.4, 1)


def test_the_shipped_base_stopped_on_one_check_the_averaged_rule_would_not_take():
    acc = _shipped_history()
    stops = [i for i in range(1, len(acc) + 1) if base_mod.stop_reached(acc[:i], 0.4, 1)]
    assert stops == [len(acc)] and acc[-2:] == [0.34375, 0.41796875]  # the 0.344 -> 0.418 jump
    assert not any(base_mod.stop_reached(acc[:i], 0.4, base_mod.STOP_WINDOW) for i in range(1, len(acc) + 1))


def test_keys_keep_the_shipped_base_and_separate_rules_and_draws():
    world = load_config(None, []).world
    assert base_mod.base_key(world, stop_window=1) == base_mod.shipped_key()
    keys = {base_mod.base_key(world)} | {base_mod.base_key(draw_world(world, w), 1) for w in (1, 2)}
    keys |= {base_mod.base_key(draw_world(world, w)) for w in (1, 2)}
    assert len(keys) == 5 and base_mod.shipped_key() not in keys


def test_draw_zero_is_the_world_itself_and_draws_redraw_every_set():
    cfg = load_config(None, ["world.seed=7"])
    assert draw_world(cfg.world, 0) is cfg.world and draw_config(cfg, 0) is cfg
    assert draw_world(cfg.world, 2).seed == 9 and draw_config(cfg, 2).world.seed == 9
    assert draw_config(cfg, 2).train == cfg.train  # only the world moves
    a, b = world_splits(cfg.world), world_splits(draw_world(cfg.world, 1))
    for name in ("eval", "eval_general", "dev", "expert", "rl"):
        assert getattr(a, name) != getattr(b, name), name
    slips = [expert_responses(s.expert, 0.1, seed) for s, seed in ((a, 7), (b, 8))]
    wrong = [
        sum(r != e for r, e in zip(rs, expert_responses(s.expert, 0.0, 0))) for rs, s in zip(slips, (a, b))
    ]
    assert wrong == [len(a.expert) // 10, len(b.expert) // 10]  # 10% slips in each draw, on its own set


def test_the_default_world_uses_the_shipped_base_and_an_unshipped_draw_builds_its_own(monkeypatch, tmp_path):
    monkeypatch.setenv("PHASESCOPE_CACHE", str(tmp_path))
    built = []

    def fake_train(world, splits, out_dir, log=print, stop_window=base_mod.STOP_WINDOW):
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")
        (out_dir / "phasescope_base.json").write_text("{}")
        built.append((world.seed, stop_window))
        return {"seconds": 0.0, "steps": 0, "dev_accuracy": 0.0}

    monkeypatch.setattr(base_mod, "train_base", fake_train)
    world = load_config(None, []).world
    assert base_mod.base_model_path(world, None, log=lambda *_: None) == base_mod.SHIPPED_DIR
    path = base_mod.base_model_path(draw_world(world, 3), None, log=lambda *_: None)
    assert path == tmp_path / "base" / base_mod.base_key(draw_world(world, 3))
    assert built == [(3, base_mod.STOP_WINDOW)]


@pytest.mark.parametrize("value", ["0", "-1"])
def test_world_seeds_below_one_is_a_usage_error(value):
    with pytest.raises(UsageError, match="experiment.world_seeds must be >= 1"):
        load_config(None, [f"experiment.world_seeds={value}"])


def test_the_default_worlds_draws_1_and_2_ship_and_load_without_training(monkeypatch, tmp_path):
    tomllib = pytest.importorskip("tomllib")
    monkeypatch.setenv("PHASESCOPE_CACHE", str(tmp_path))  # an empty cache

    def no_training(*args, **kwargs):
        raise AssertionError("a shipped draw's base was trained")

    monkeypatch.setattr(base_mod, "train_base", no_training)
    world = load_config(None, []).world
    pyproject = base_mod.SHIPPED_DRAWS.parents[2] / "pyproject.toml"
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["phasescope.world"]
    for w in (1, 2):
        drawn = draw_world(world, w)
        path = base_mod.base_model_path(drawn, None, log=lambda *_: None)
        assert path == base_mod.SHIPPED_DRAWS / base_mod.base_key(drawn)
        meta = json.loads((path / "phasescope_base.json").read_text())
        assert meta["key"] == path.name and meta["stop_window"] == base_mod.STOP_WINDOW
        assert meta["key_fields"]["seed"] == w and (path / "model.safetensors").stat().st_size < 1_000_000
        for f in path.iterdir():
            assert any(Path(f"shipped_draws/{path.name}/{f.name}").match(p) for p in patterns), f.name
        history = [a for _, a in meta["history"]]  # it stopped where the rule says, and not before
        assert base_mod.stop_reached(history, drawn.base_target_accuracy, base_mod.STOP_WINDOW)
        assert not any(
            base_mod.stop_reached(history[:i], drawn.base_target_accuracy, 3) for i in range(len(history))
        )
    assert not any(tmp_path.iterdir())
