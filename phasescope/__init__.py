"""phasescope: what expert data does to a model over post-training, and which SFT/RL mix is best.

Training lives in `phasescope.train` (needs torch); reading and analysing curves lives in
`phasescope.runlog`, `phasescope.analysis` and `phasescope.report` (no torch). `phasescope.arms` is
the arm registry and `phasescope.config` the experiment configuration;
`phasescope.analyse(phasescope.open_experiment(path), metric)` reads any run's phases; README "Where things are"
maps every module and the data flow from `phasescope run` to the report.
"""

from phasescope.version import __version__ as __version__


def __getattr__(name: str):
    # `import phasescope` stays light: the analysis needs pandas/scipy, PhaseCallback needs
    # transformers (and so torch); each is imported only when asked for.
    if name == "open_experiment":
        from phasescope.runlog.open import open_experiment

        return open_experiment
    if name == "analyse":
        from phasescope.analysis.pipeline import analyse

        return analyse
    if name == "PhaseCallback":
        from phasescope.callback import PhaseCallback

        return PhaseCallback
    raise AttributeError(f"module 'phasescope' has no attribute {name!r}")
