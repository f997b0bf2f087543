from __future__ import annotations

import subprocess
import sys


def test_analysis_and_runlog_do_not_import_torch():
    code = (
        "import sys, phasescope.analysis, phasescope.runlog.importers, phasescope.runlog.reader,"
        " phasescope.analysis.synthetic; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
