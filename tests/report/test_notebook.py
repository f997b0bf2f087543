"""notebooks/phase_analysis.ipynb runs top to bottom on a tiny run directory, and is stored
without outputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import make_experiment

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "phase_analysis.ipynb"


def test_notebook_is_stored_without_outputs():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert any("parameters" in c.metadata.get("tags", []) for c in code)


def test_notebook_executes_on_a_tiny_run_dir(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    exp = make_experiment(tmp_path, arms=("sft", "chord_phi"), seeds=2, steps=60, with_probes=False)
    monkeypatch.setenv("PHASESCOPE_RUNS_DIR", str(exp))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("output_type") == "stream"
    )
    assert "At each arm's own end: Highest final eval/accuracy: chord_phi" in text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3
    assert not os.path.exists(exp / "analysis")  # the notebook reads; it writes nothing unless asked
