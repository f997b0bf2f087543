"""Every private TRL / transformers member phasescope uses (``train/upstream.py``) still exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("trl")

from phasescope.train.upstream import PRIVATE_MEMBERS, has_member, missing_members  # noqa: E402


def test_every_listed_private_member_exists_in_the_installed_trl_and_transformers():
    gone = missing_members()
    assert not gone, "\n".join(gone)


def test_a_removed_member_is_named_with_its_package_version_and_why():
    from trl import GRPOTrainer

    (line,) = missing_members(((GRPOTrainer, "_no_such_member", "a test needs it"),))
    assert re.match(r"GRPOTrainer\._no_such_member is gone in trl \d+\.\d+", line), line
    assert "because a test needs it" in line


def test_instance_attributes_are_found_by_their_assignment_and_methods_by_definition():
    from trl import GRPOTrainer

    assert has_member(GRPOTrainer, "_metrics") and has_member(GRPOTrainer, "_step")  # set in __init__
    assert has_member(GRPOTrainer, "_maybe_log_save_evaluate")  # inherited from transformers' Trainer
    assert not has_member(GRPOTrainer, "_metric")  # a prefix of a real one is not enough


def test_the_list_is_exactly_the_private_upstream_members_the_trainer_touches():
    """Every underscore name trainer.py uses, overrides or assigns that TRL's GRPOTrainer (or a base)
    also has is listed, and nothing else: an override or a same-named attribute counts too."""
    from trl import GRPOTrainer

    import phasescope.train.trainer as mod

    source = Path(mod.__file__).read_text()
    names = set(re.findall(r"(?:self\.|super\(\)\.|def )(_[a-z]\w*)", source))
    upstream = {n for n in names if has_member(GRPOTrainer, n)}
    listed = {name for _, name, _ in PRIVATE_MEMBERS}
    assert upstream == listed, (
        f"unlisted: {sorted(upstream - listed)}; no longer used: {sorted(listed - upstream)}"
    )
