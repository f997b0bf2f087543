"""The package version, in a leaf module: modules inside phasescope import it from here, never from
the `phasescope` package itself (whose `__init__` re-exports it)."""

__version__ = "0.1.0"
