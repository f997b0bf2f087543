"""One arm of the tiny world with deterministic rollouts, for the 1- vs 2-process comparison.

    python tests/train/dist_worker.py OUT_DIR WEIGHTS_FILE ARM [--set k=v ...]                      # 1 process
    accelerate launch --multi_gpu --num_processes 2 tests/train/dist_worker.py OUT_DIR WEIGHTS ...  # 2 processes

Sampling differs between process layouts (each process has its own RNG), so rollouts are replaced by
a fixed function of (prompt, position in its group): correct and wrong answers of different lengths,
in both answer styles. Everything else (advantages, losses, expert rows, evaluation) is the real code.
The final weights go to WEIGHTS_FILE (outside the run directory) from the main process.
"""

import sys
import zlib

import torch

from phasescope.config import load_config
from phasescope.train.distributed import is_main_process
from phasescope.train.train_one import train_one
from phasescope.train.trainer import PhaseTrainer
from phasescope.world.task import Problem, cot_response


def fixed_completion(prompt: str, k: int) -> str:
    a, b = prompt.rstrip("=").split("+")
    p = Problem(int(a), int(b), "+", digits=len(a))
    choice = zlib.crc32(f"{prompt}|{k}".encode()) % 4
    return [f"{p.answer};", f"{p.answer + 1};", cot_response(p), "1;"][choice]


def _generate_single_turn(
    self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False
):
    tok = self.processing_class
    k = self.num_generations
    out = []
    for i, ids in enumerate(prompt_ids):
        prompt = "".join(tok.convert_ids_to_tokens([t for t in ids if t != tok.pad_token_id]))
        out.append(tok.convert_tokens_to_ids(list(fixed_completion(prompt, i % k))))
    return out, None


def _slow_rng_save_off_main(save):
    """PHASESCOPE_TEST_SLOW_SAVE=<s>: ranks other than 0 write their RNG state <s> seconds late, so
    a completion marker that does not wait for every rank is written before their files."""
    import os
    import time

    delay = float(os.environ.get("PHASESCOPE_TEST_SLOW_SAVE", "0"))

    def slow(self, output_dir):
        if self.args.process_index != 0:
            time.sleep(delay)
        return save(self, output_dir)

    return slow if delay else save


def main(argv):
    out_dir, weights, arm = argv[0], argv[1], argv[2]
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    PhaseTrainer._generate_single_turn = _generate_single_turn
    PhaseTrainer._save_rng_state = _slow_rng_save_off_main(PhaseTrainer._save_rng_state)
    cfg = load_config(None, sets)
    from pathlib import Path

    model = train_one(cfg, arm, 0, Path(out_dir), threads=1)
    if is_main_process():
        torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, weights)


if __name__ == "__main__":
    main(sys.argv[1:])
