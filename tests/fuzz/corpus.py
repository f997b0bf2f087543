"""The unmutated inputs the fuzzer starts from, built once into a folder: copies of the public logs
(tests/fixtures/real_logs), the synthetic fixtures, a W&B export, a TensorBoard event directory written
with the ``tensorboard`` package, two small phasescope experiment directories (the embedded world's
and a real model's, with data.json), and config TOML files. No training: runs are synthetic.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


@dataclass(frozen=True)
class Seed:
    """One unmutated input: ``rel`` is its path under the corpus folder; ``kind`` says what it is
    ("log", "tensorboard", "run", "config"); ``metric`` a metric it holds (for segment -m, watch)."""

    rel: str
    kind: str
    metric: str


def _tensorboard(d: Path) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    d.mkdir(parents=True)
    writer = EventFileWriter(str(d))
    for step in range(60):
        loss = 2.0 / (1 + step) + (0.3 if 20 <= step < 30 else 0.0)
        values = [
            summary_pb2.Summary.Value(tag="train/loss", simple_value=loss),
            summary_pb2.Summary.Value(tag="eval/accuracy", simple_value=min(1.0, step / 50)),
        ]
        writer.add_event(
            event_pb2.Event(step=step, wall_time=1.0e9 + step, summary=summary_pb2.Summary(value=values))
        )
    writer.close()


def _real_run(root: Path) -> None:
    """A real model's experiment: experiment.json names a model and eval sets; data.json per seed."""
    from tests.report.conftest import make_experiment

    exp = make_experiment(root, name="real", arms=("sft", "chord_phi"), seeds=2, steps=40, eval_every=5)
    meta = json.loads((exp / "experiment.json").read_text())
    meta["config"]["model"] = {"model_name_or_path": "/models/tiny"}
    meta["config"]["data"] = {"eval": ["math_eval.jsonl"]}
    (exp / "experiment.json").write_text(json.dumps(meta, indent=2))
    for d in exp.glob("*/seed*"):
        (d / "data.json").write_text(
            json.dumps({"eval:math_eval": {"rows": 64, "source": "math_eval.jsonl"}})
        )


def build(root: Path) -> list[Seed]:
    """Write every seed under ``root`` (once) and list them."""
    from tests.report.conftest import make_experiment

    root = Path(root)
    seeds: list[Seed] = []
    for f in sorted((FIXTURES / "real_logs").iterdir()):
        if f.suffix != ".md":
            seeds.append(Seed(f"logs/{f.name}", "log", "loss"))
    for f in sorted(FIXTURES.glob("*.*")):
        if f.suffix in (".csv", ".json", ".jsonl"):
            seeds.append(Seed(f"logs/{f.name}", "log", "eval_loss" if "hf_" in f.name else "loss"))
    seeds.append(Seed("tb/events", "tensorboard", "train/loss"))
    seeds.append(Seed("runs/toy", "run", "eval/accuracy"))
    seeds.append(Seed("runs/real", "run", "eval/accuracy"))
    for f in ("default.toml", "qwen2.5-0.5b-math-1gpu.toml"):
        seeds.append(Seed(f"configs/{f}", "config", ""))
    if (root / "done").exists():
        return seeds
    (root / "logs").mkdir(parents=True, exist_ok=True)
    for s in seeds:
        if s.rel.startswith("logs/"):
            name = s.rel.split("/", 1)[1]
            src = FIXTURES / "real_logs" / name
            shutil.copy(src if src.exists() else FIXTURES / name, root / s.rel)
    _tensorboard(root / "tb" / "events")
    make_experiment(
        root / "runs", name="toy", arms=("sft", "rl", "chord_phi"), seeds=3, steps=60, eval_every=5
    )
    _real_run(root / "runs")
    (root / "configs").mkdir()
    for f in ("default.toml", "qwen2.5-0.5b-math-1gpu.toml"):
        shutil.copy(REPO / "experiments" / f, root / "configs" / f)
    (root / "done").write_text("")
    return seeds
