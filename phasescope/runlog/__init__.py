"""The run directory: append-only metrics logs, and importers for logs written by other trainers.

Reading never needs torch: ``reader`` parses phasescope's own run directories, ``importers`` turns
any supported log (phasescope, CSV/JSONL, Hugging Face ``trainer_state.json``, LLaMA-Factory,
PyTorch Lightning, TensorBoard, W&B) into one tidy frame with ``load_curves``; ``open_experiment``
(``open``) reads everything a source holds, once, for the analysis.
"""


def __getattr__(name: str):
    # Writing a run (the trainer's workers) must not pay for pandas: the reader loads on first use.
    if name in ("open_experiment", "Experiment"):
        from phasescope.runlog import open as _open

        return getattr(_open, name)
    raise AttributeError(f"module 'phasescope.runlog' has no attribute {name!r}")
