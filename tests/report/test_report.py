"""report: the files, figure names, a self-contained HTML, figures that skip gracefully."""

from __future__ import annotations

import base64
import re

import pytest

from phasescope.report import build_report
from phasescope.report.plots import ARM_ORDER, arm_styles

from .conftest import FIGURES

FULL = FIGURES | {"token_hist_sft_then_rl"}


@pytest.fixture(scope="module")
def rep(toy_exp):
    return build_report(toy_exp)


def test_writes_expected_files_and_figures(rep, toy_exp):
    out = toy_exp / "analysis"
    assert rep.out_dir == out
    for name in ("report.html", "report.md"):
        assert (out / name).is_file()
    for slug in ("eval-accuracy", "eval-expert_nll", "eval-general_accuracy"):
        assert (out / slug / "compare.json").is_file() and (out / slug / "phases.json").is_file()
    assert set(rep.figures) == FULL
    for name in FULL:
        png = out / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(png.read_bytes()[16:20], "big")
        assert width >= 900  # print-size at 150 dpi


def test_html_is_self_contained(rep):
    text = rep.html.read_text()
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == len(FULL)
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"<(script|link)\b", text)


def test_report_states_the_verdict_tables_config_and_versions(rep):
    text = rep.html.read_text()
    md = rep.markdown.read_text()
    for doc in (text, md):
        assert "Highest final eval/accuracy: chord_phi" in doc
        assert "Pairwise comparisons" in doc and "Phases" in doc and "Hedges" in doc
        assert "deadbeef" in doc and "phasescope" in doc  # config and versions from experiment.json
        assert "Most divergent expert tokens" in doc
    for name in FULL:
        assert f"(figures/{name}.png)" in md


def test_each_arm_keeps_its_colour_in_every_subset():
    full = arm_styles(ARM_ORDER)
    assert len({s["color"] for s in full.values()}) == len(ARM_ORDER)
    assert len({str(s["ls"]) for s in full.values()}) == len(ARM_ORDER)
    assert arm_styles(["chord_phi"])["chord_phi"] == full["chord_phi"]
    assert arm_styles(["rl", "my_arm"])["rl"] == full["rl"]
