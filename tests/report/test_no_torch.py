from __future__ import annotations

import subprocess
import sys


def test_compare_report_and_mirror_import_neither_torch_nor_wandb():
    code = (
        "import sys, phasescope.analysis.compare, phasescope.report, phasescope.report.plots,"
        " phasescope.runlog.wandb_mirror;"
        " bad = {'torch', 'wandb'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
