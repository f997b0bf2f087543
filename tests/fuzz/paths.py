"""Mutations of paths rather than bytes: a file replaced by a link (a loop, to nowhere, to a folder),
a folder or a named pipe, or removed; run directories with renamed seed and arm folders, stray files
and link loops. Part of the fuzzer (see ``mutate``)."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path


def symlink(p: Path, rng: random.Random) -> None:
    """The file replaced by a link: to itself (a loop), to nowhere, to a directory, or a valid link."""
    how = rng.choice(["loop", "dangling", "dir", "valid"])
    if how == "valid":
        real = p.with_name(p.name + ".real")
        p.rename(real)
        p.symlink_to(real.name)
        return
    p.unlink()
    p.symlink_to({"loop": p.name, "dangling": "missing-target", "dir": "."}[how])


def replace_by_dir(p: Path, rng: random.Random) -> None:
    p.unlink()
    p.mkdir()
    if rng.random() < 0.5:
        (p / "inner.txt").write_text("1,2\n")


def remove(p: Path, rng: random.Random) -> None:
    p.unlink()


def fifo(p: Path, rng: random.Random) -> None:
    """A named pipe where a file was: reading it would block forever."""
    p.unlink()
    os.mkfifo(p)


PATH_KINDS = {f.__name__: f for f in (symlink, replace_by_dir, remove, fifo)}


def rename_seed_dir(run_root: Path, rng: random.Random) -> None:
    """A seed folder renamed the way copies between machines rename them."""
    seeds = sorted(run_root.glob("*/seed*"))
    if not seeds:
        return
    d = rng.choice(seeds)
    name = rng.choice(
        [
            "seed" + "9" * 40,
            "seed-1",
            "seed",
            "seed_007",
            "seed0 copy",
            "séed1",
            "seed1e9",
            "seed" + "1" * 200,
        ]
    )
    target = d.with_name(name)
    if not target.exists():
        d.rename(target)


def arm_as_file(run_root: Path, rng: random.Random) -> None:
    """A stray file where an arm or a seed folder is expected, or an extra empty run."""
    arm = run_root / rng.choice(["junk", "sft", "seed0"])
    if arm.exists():
        shutil.rmtree(arm) if arm.is_dir() else arm.unlink()
    if rng.random() < 0.5:
        arm.write_text("not a folder")
    else:
        (arm / "seed0").mkdir(parents=True)
        (arm / "seed0" / "metrics.jsonl").write_text(rng.choice(["", "\n", "{}", '{"step": 0}']))


def self_link_dir(run_root: Path, rng: random.Random) -> None:
    """A folder linking to its parent: a crawler that follows links would never end."""
    d = rng.choice([run_root, *run_root.glob("*")])
    if d.is_dir():
        os.symlink("..", d / "loop")


def odd_dir_names(run_root: Path, rng: random.Random) -> None:
    """An arm folder renamed with a newline, spaces, non-ASCII or a very long name."""
    arms = sorted(d for d in run_root.iterdir() if d.is_dir() and not d.is_symlink())
    if arms:
        d = rng.choice(arms)
        d.rename(d.with_name(rng.choice(["a\nb", " sft ", "ümlaut→arm", "x" * 250, "-m", ".hidden"])))


DIR_KINDS = {f.__name__: f for f in (rename_seed_dir, arm_as_file, self_link_dir, odd_dir_names)}
