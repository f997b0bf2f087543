"""phasescope: what expert data does to a model over post-training, and which SFT/RL mix is best.

Training lives in `phasescope.train` (needs torch); reading and analysing curves lives in
`phasescope.runlog`, `phasescope.analysis` and `phasescope.report` (no torch). `phasescope.arms` is
the arm registry and `phasescope.config` the experiment configuration; README "Where things are"
maps every module and the data flow from `phasescope run` to the report.
"""

__version__ = "0.1.0"
