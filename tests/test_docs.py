"""The docs stay true: generated pages match the code, every logged key is documented, links resolve,
the README stays a front door, and nothing cites a document outside the repository."""

import json
import re
import time
from pathlib import Path

import pytest

from phasescope import docgen
from phasescope.metrics import GROUPS, all_metrics, describe_metric, undocumented

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Keys of real metrics.jsonl files: the default run (all six default arms, 600 steps, seed 0, before
# issue 19), tiny runs of all eight arms, and the unified online-detector names of issue 19.
SAMPLE_KEYS = [
    "step",
    "stage",
    "train/loss",
    "train/grpo_loss",
    "train/sft_loss",
    "train/mu",
    "train/lr",
    "train/grad_norm",
    "train/skipped",
    "rollout/reward_mean",
    "rollout/reward_std",
    "rollout/frac_zero_std",
    "rollout/response_length",
    "rollout/entropy",
    "rollout/clip_frac",
    "rollout/truncated_rate",
    "expert/nll",
    "expert/p_mean",
    "expert/p_q10",
    "expert/p_q50",
    "expert/p_q90",
    "expert/divergent_frac",
    "expert/phi_mean",
    "expert/entropy",
    "probe/nll",
    "probe/p_mean",
    "probe/p_q10",
    "probe/p_q50",
    "probe/p_q90",
    "probe/divergent_frac",
    "probe/phi_mean",
    "probe/entropy",
    "probe/kl_to_base",
    "eval/accuracy",
    "eval/sampled_accuracy",
    "eval/format_rate",
    "eval/cot_rate",
    "eval/response_length",
    "eval/truncated_rate",
    "eval/expert_nll",
    "eval/general_accuracy",
    "eval/math500_accuracy",
    "eval/math500_format_rate",
    "dev/accuracy",
    "dev/expert_nll",
    "dev/format_rate",
    "time/step_s",
    "time/generate_s",
    "time/eval_s",
    "time/probe_s",
    "time/dev_s",
    "perf/tokens_per_s",
    "phase/code",
    "phase/events",
    "phase/best_step",
    "phase/best_value",
    "phase/overfit_start_step",
    "phase/overfit_lag",
    "phase/readapt_confirmed_step",
    "phase/sft_code",
]


def test_generated_pages_are_what_the_generator_writes():
    for name, make in docgen.PAGES.items():
        page = DOCS / name
        assert page.exists(), f"docs/{name} is missing; run python -m phasescope.docgen"
        assert page.read_text() == make(), f"docs/{name} is stale; run python -m phasescope.docgen"


def test_config_page_documents_every_field():
    page = (DOCS / "config.md").read_text()
    assert "(undocumented)" not in page, "a config field has no docstring (config_sections.py)"
    for name, cls in docgen.SECTIONS:
        for field in cls.__dataclass_fields__:
            assert f"`{name}.{field}`" in page
    assert "| `train.max_steps` | `600` |" in page  # the default comes from the dataclass


def test_field_docs_reads_attribute_docstrings():
    class Example:
        a: int = 1
        """First line
        second line."""
        b: int = 2
        c: int = 3
        """C."""

    assert docgen.field_docs(Example) == {"a": "First line\nsecond line.", "c": "C."}


def test_describe_metric_matches_names_and_patterns():
    assert describe_metric("perf/tokens_per_s").name == "perf/tokens_per_s"
    assert describe_metric("eval/math500_accuracy").name == "eval/<set>_accuracy"
    assert describe_metric("eval/accuracy").name == "eval/accuracy"  # an exact name beats a pattern
    assert describe_metric("phase/overfit_lag").name == "phase/<label>_lag"
    assert describe_metric("phase/readapt_confirmed_step").name == "phase/<label>_confirmed_step"
    assert describe_metric("phase/chord_mu/shift/start_step").name == "phase/<arm>/<offline_label>/start_step"
    for unknown in ("eval/bogus", "phase/bogus_lag", "train/nothing", "perf/tokens_per_s/x"):
        assert describe_metric(unknown) is None, unknown
    assert undocumented(["step", "train/nothing", "eval/bogus"]) == ["eval/bogus", "train/nothing"]


def test_registry_names_are_unique_and_defined():
    names = [m.name for m in all_metrics()]
    assert len(names) == len(set(names))
    assert all(m.definition.strip() for m in all_metrics())
    for key in ("train/skipped", "time/dev_s", "perf/tokens_per_s"):  # issue 19: once defined nowhere
        assert key in (DOCS / "metrics.md").read_text() and describe_metric(key) is not None
    assert len(GROUPS) >= 9


def test_metric_registry_is_a_leaf():
    import ast

    tree = ast.parse((ROOT / "phasescope" / "metrics.py").read_text())
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m.startswith("phasescope")], modules


def test_sample_of_logged_keys_is_documented():
    assert undocumented(SAMPLE_KEYS) == []


def _logged_keys(exp: Path) -> set[str]:
    keys: set[str] = set()
    for path in exp.glob("*/seed*/*.jsonl"):
        if path.name not in ("tokens.jsonl", "problems.jsonl"):  # records, not metric rows
            for line in path.read_text().splitlines():
                keys |= set(json.loads(line))
    return keys


@pytest.mark.slow
def test_every_key_a_run_of_every_arm_logs_is_documented(cli, tmp_path, tiny_cache, tiny_world):
    from phasescope.arms import ARM_NAMES

    # sft_steps=best: the dev split's keys (dev/*, time/dev_s) are logged too
    sets = [*tiny_world, "arms.sft_then_rl.sft_steps=best"]
    t0 = time.perf_counter()
    res = cli("run", "--arms", ",".join(ARM_NAMES), "--out", tmp_path, "--name", "keys",
              *[x for s in sets for x in ("--set", s)])  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    keys = _logged_keys(tmp_path / "keys")
    assert {"dev/accuracy", "probe/kl_to_base", "rollout/reward_mean", "time/dev_s"} <= keys
    missing = undocumented(keys)
    assert not missing, f"logged but not in phasescope/metrics.py: {missing}"
    assert time.perf_counter() - t0 < 300


# --- links and size --------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M)}


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move reference material to docs/"
    for page in ("metrics.md", "config.md", "arms.md", "real-models.md", "results.md", "design.md", "cli.md"):
        assert (DOCS / page).exists(), page
        assert f"docs/{page}" in "\n".join(lines), f"README does not link docs/{page}"


def _broken_links(pages: list[Path]) -> list[str]:
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def test_every_relative_link_points_to_an_existing_file():
    broken = _broken_links(_pages())
    assert not broken, broken


def test_broken_links_are_found(tmp_path):
    (tmp_path / "a.md").write_text("# Top\n## The `[trl]` table\n")
    page = tmp_path / "b.md"
    page.write_text(
        "[ok](a.md) [ok](a.md#the-trl-table) [x](missing.md) [y](a.md#nope) [w](https://x.org/q)\n"
    )
    assert _broken_links([page]) == ["b.md: missing.md", "b.md: a.md#nope (no such heading)"]


def test_slug_follows_github():
    assert _slug("`[trl]`: passing GRPOConfig fields through") == "trl-passing-grpoconfig-fields-through"
    assert _slug("SFT → RL as two trainings") == "sft--rl-as-two-trainings"


# --- the repository cites nothing outside itself -----------------------------------------------------------

OUTSIDE = re.compile(r"\.\./shared|shared/(docs|data)|DESIGN\.md|BACKGROUND\.md|WORLD-NOTES|STYLE\.md")

# Files whose owners still have to repoint a citation to docs/design.md (issue 19); remove an entry once
# its file is clean. A file not listed here that cites an outside document fails the test.
PENDING = {
    "phasescope/world/task.py",
    "phasescope/train/losses.py",
    "phasescope/config_sections.py",
    "docs/config.md",  # generated from config_sections.py's docstrings
}


def _citing_files() -> set[str]:
    found = set()
    for folder in ("phasescope", "tests", "benchmarks", "experiments", "notebooks", "docs"):
        for path in (ROOT / folder).rglob("*"):
            readable = path.is_file() and path.suffix in (".py", ".md", ".toml", ".ipynb", ".sh", ".yaml")
            if readable and path.name != "test_docs.py" and OUTSIDE.search(path.read_text(errors="ignore")):
                found.add(str(path.relative_to(ROOT)))
    if OUTSIDE.search((ROOT / "README.md").read_text()):
        found.add("README.md")
    return found


def test_nothing_cites_a_document_outside_the_repository():
    new = _citing_files() - PENDING
    assert not new, f"these files cite documents outside the repository (write it into docs/design.md): {new}"


def test_outside_citation_pattern():
    for text in ("see DESIGN.md", "../shared/data/real-logs", "(BACKGROUND.md)", "WORLD-NOTES.md"):
        assert OUTSIDE.search(text), text
    assert not OUTSIDE.search("see docs/design.md")
