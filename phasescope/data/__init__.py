"""Real datasets for real models: (prompt, reference answer, expert response) rows and answer checking.

- `sources`: JSONL files, local dataset folders or Hugging Face dataset ids, read through a field
  mapping into `Example`s; subsets drawn by seed; the overlap between RL prompts and expert prompts.
- `mathcheck`: math answer checking with `math-verify` (boxed answers, numeric and symbolic
  equivalence), used both as the rollout reward and for held-out accuracy.
"""

from phasescope.data.mathcheck import has_boxed, is_correct, last_boxed, math_reward
from phasescope.data.sources import Example, load_examples, prompt_overlap, read_rows, split_source

__all__ = [
    "Example",
    "has_boxed",
    "is_correct",
    "last_boxed",
    "load_examples",
    "math_reward",
    "prompt_overlap",
    "read_rows",
    "split_source",
]
