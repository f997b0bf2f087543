"""The default world's base ships with the package: the default config finds it without training, and
every other world still builds (and caches) its own."""

import dataclasses
from pathlib import Path

import pytest

from phasescope.config import load_config
from phasescope.world import base as base_mod
from phasescope.world import world_splits

REPO = Path(__file__).resolve().parents[2]


def _no_training(*args, **kwargs):
    raise AssertionError("the base was trained although a matching one ships")


def test_shipped_base_is_the_default_worlds():
    world = load_config(None, []).world
    assert base_mod.shipped_key() == base_mod.base_key(world, stop_window=1)  # the rule it was built with


def test_default_world_loads_the_shipped_base_without_training(monkeypatch, tmp_path):
    monkeypatch.setenv("PHASESCOPE_CACHE", str(tmp_path))  # an empty cache: nothing built before
    monkeypatch.setattr(base_mod, "train_base", _no_training)
    world = load_config(None, []).world
    path = base_mod.base_model_path(world, world_splits(world), log=lambda *_: None)
    assert path == base_mod.SHIPPED_DIR
    assert not any(tmp_path.iterdir())


def test_the_shipped_base_scores_the_documented_step0_accuracy():
    # README: "step-0 held-out accuracy 0.350" on every machine (same weights everywhere).
    import torch

    from phasescope.world.pretrain import greedy_accuracy

    world = load_config(None, []).world
    torch.set_num_threads(1)
    model, tokenizer = base_mod.load_base(base_mod.SHIPPED_DIR)
    cfg = load_config(None, [])
    acc = greedy_accuracy(model, tokenizer, world_splits(world).eval, cfg.train.max_completion_length)
    assert acc == pytest.approx(0.350)
    assert "accuracy 0.350 at step 0" in (REPO / "docs" / "world.md").read_text()


def test_another_world_builds_and_caches_its_own(monkeypatch, tmp_path):
    monkeypatch.setenv("PHASESCOPE_CACHE", str(tmp_path))
    built = []

    def fake_train(world, splits, out_dir, log=print):
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")
        (out_dir / "phasescope_base.json").write_text("{}")
        built.append(out_dir)
        return {"seconds": 0.0, "steps": 0, "dev_accuracy": 0.0}

    monkeypatch.setattr(base_mod, "train_base", fake_train)
    default = load_config(None, []).world
    world = dataclasses.replace(default, base_lr=0.5 * default.base_lr)
    key = base_mod.base_key(world)
    assert key != base_mod.shipped_key()
    path = base_mod.base_model_path(world, None, log=lambda *_: None)
    assert path == tmp_path / "base" / key and len(built) == 1
    assert base_mod.base_model_path(world, None, log=lambda *_: None) == path and len(built) == 1  # cached


def test_the_shipped_files_are_package_data_and_small():
    tomllib = pytest.importorskip("tomllib")
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = data["phasescope.world"]
    names = {p.name for p in base_mod.SHIPPED_DIR.iterdir()}
    assert {"model.safetensors", "config.json", "phasescope_base.json"} <= names
    assert all(any(Path(f"shipped/{n}").match(p) for p in patterns) for n in names)
    assert (base_mod.SHIPPED_DIR / "model.safetensors").stat().st_size < 1_000_000
