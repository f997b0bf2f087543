"""The run directory: append-only metrics logs, and importers for logs written by other trainers.

Reading never needs torch: ``reader`` parses phasescope's own run directories, ``importers`` turns
any supported log (phasescope, CSV/JSONL, Hugging Face ``trainer_state.json``, LLaMA-Factory,
PyTorch Lightning, TensorBoard, W&B) into one tidy frame with ``load_curves``.
"""
