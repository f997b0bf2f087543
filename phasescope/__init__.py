"""phasescope: what expert data does to a model over post-training, and which SFT/RL mix is best.

Training lives in `phasescope.train` (needs torch); reading and analysing curves lives in
`phasescope.runlog` and `phasescope.analysis` (no torch).
"""

__version__ = "0.1.0"
