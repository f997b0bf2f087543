"""Real datasets for real models: (prompt, reference answer, expert response) rows and answer checking.

- `sources`: JSONL files, local dataset folders or Hugging Face dataset ids, read through a field
  mapping into `Example`s; a source stays a `datasets.Dataset` until a seeded subset is drawn; the
  overlap between RL prompts and expert prompts.
- `mathcheck`: math answer checking with `math-verify` (boxed answers, numeric and symbolic
  equivalence), used both as the rollout reward and for held-out accuracy.
"""

from phasescope.data.mathcheck import has_boxed, is_correct, last_boxed, math_reward
from phasescope.data.sources import (
    DataSource,
    Drawn,
    Example,
    draw_examples,
    load_examples,
    open_source,
    parse_source,
    prompt_overlap,
    split_source,
)

__all__ = [
    "DataSource",
    "Drawn",
    "Example",
    "draw_examples",
    "has_boxed",
    "is_correct",
    "last_boxed",
    "load_examples",
    "math_reward",
    "prompt_overlap",
    "open_source",
    "parse_source",
    "split_source",
]
