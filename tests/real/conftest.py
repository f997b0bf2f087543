from pathlib import Path

import pytest

from tests.real.tiny_model import build_tiny_model

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny Qwen2 model + byte-level Qwen2 tokenizer with a chat template, saved like a hub snapshot."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2") / "model")


def real_overrides(model_dir: Path, out: Path) -> list[str]:
    """`--set` overrides that turn experiments/qwen2.5-0.5b-math-1gpu.toml into a seconds-long CPU run."""
    train = str(DATA / "math_tiny.jsonl")
    return [
        f'model.model_name_or_path="{model_dir}"',
        "model.attn_implementation=eager",
        f'data.rl_prompts="{train}"',
        f'data.expert="{train}"',
        f'data.eval=["{DATA / "math_tiny_eval.jsonl"}"]',
        "data.n_expert=8",
        "data.n_eval=4",
        "data.eval_batch_size=4",
        "train.max_steps=2",
        "train.prompts_per_step=2",
        "train.num_generations=2",
        "train.expert_batch_size=4",
        "train.gradient_accumulation_steps=2",
        "train.max_completion_length=12",
        "train.eval_steps=1",
        "arms.sft_then_rl.sft_steps=1",
        "arms.chord_mu.mu_decay_steps=1",
        f'experiment.out="{out}"',
    ]
