"""Run one fuzz case in-process through ``phasescope.cli.main`` and judge what came out.

A case is a number: it seeds the choice of input (a corpus seed), of one or two mutations, and of the
command (segment, segment -m --json -, compare --json -, report, watch, check, run --resume). The
verdict is None when the command behaved, else a failure kind:

- ``traceback``: an exception other than SystemExit escaped ``main``, or stderr holds "Traceback";
- ``crash``: main printed its internal-error line (a bug caught at the last moment, exit 1);
- ``hang``: the command ran past the per-case time limit;
- ``exit_code``: an exit status other than 0, 1 or 2; ``exit_1``: 1 where bad input must give 2;
- ``invalid_json``: ``--json`` output that strict JSON (no NaN/Infinity) does not parse;
- ``multi_error`` / ``silent_error``: more than one ``error:`` line, or a failure with none;
- ``stray_stderr``: stderr lines that are neither notes, warnings nor the error (e.g. a library's
  RuntimeWarning), which users read as the tool breaking;
- ``wrote_input``: the command changed a file of the input outside ``analysis/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz import mutate
from tests.fuzz.corpus import Seed

TIME_LIMIT = 30.0


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` in the tool can swallow it."""


@dataclass
class Verdict:
    case: int
    seed: str
    mutations: list[str]
    argv: list[str]
    code: int | None
    failure: str | None
    detail: str = ""


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _digest(root: Path) -> dict[str, str]:
    """Hash of every file under ``root`` outside ``analysis/`` (links not followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "analysis"]
        for f in filenames:
            p = Path(dirpath) / f
            if p.is_symlink() or not p.is_file():
                out[str(p)] = "link" if p.is_symlink() else "other"
                continue
            out[str(p)] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def _mutate_case(seed: Seed, target: Path, rng: random.Random) -> list[str]:
    """Apply one or two mutations to the copied seed at ``target``; returns their names."""
    done = []
    for _ in range(1 if rng.random() < 0.75 else 2):
        if seed.kind == "run":
            files = [p for p in target.rglob("*") if p.is_file() and not p.is_symlink()]
            if rng.random() < 0.12 or not files:
                name = rng.choice(sorted(mutate.DIR_KINDS))
                mutate.DIR_KINDS[name](target, rng)
                done.append(name)
                continue
            weights = [5 if p.name == "metrics.jsonl" else 3 if p.suffix == ".json" else 1 for p in files]
            path = rng.choices(files, weights)[0]
            label = f"{path.relative_to(target)}:"
        else:
            path, label = target, ""
            if seed.kind == "tensorboard":
                events = [p for p in target.rglob("*tfevents*") if p.is_file()]
                if not events:
                    continue
                path = events[0]
        if path.is_symlink() or not path.is_file():  # a link, folder or pipe a first mutation left
            continue
        table = mutate.PATH_KINDS if rng.random() < 0.07 else mutate.FILE_KINDS
        name = rng.choice(sorted(table))
        if path.suffix == ".toml" and rng.random() < 0.5:
            table, name = mutate.FILE_KINDS, "toml_values"
        elif path.suffix == ".csv" and rng.random() < 0.2:
            table, name = mutate.FILE_KINDS, "csv_quotes"
        elif path.name == "tokens.jsonl" and rng.random() < 0.5:
            table, name = mutate.FILE_KINDS, "odd_jsonl_record"
        elif path.suffix == ".json" and path.name != "trainer_state.json" and rng.random() < 0.4:
            table, name = (
                mutate.FILE_KINDS,
                "odd_record",
            )  # a record (experiment.json, data.json): its fields' types matter most
        table[name](path, rng)
        done.append(label + name)
    return done


def _argv(seed: Seed, target: Path, out: Path, metric: str, rng: random.Random) -> list[str]:
    p = str(target)
    if seed.kind == "config":
        return rng.choice([["check", p], ["check", p, "--arms", "sft"]])
    if rng.random() < 0.08:  # options with odd values too
        extra = rng.choice(
            [
                ["--step-col", "nope"],
                ["--step-col", "step"],
                ["--eval-n", "0"],
                ["--eval-n", "9" * 30],
                ["--direction", "lower"],
                ["--eval-n", "64"],
            ]
        )
        return ["segment", p, "-m", metric, "--json", "-", *extra]
    choices = [
        (["segment", p], 4),
        (["segment", p, "-m", metric, "--json", "-"], 5),
        (["segment", p, "-m", metric], 1),
        (["compare", p, "--json", "-", "-m", metric], 4),
        (["report", p, "--out", str(out), "-m", metric], 2),
        (["watch", p, "-m", metric, "--until-idle", "0.5", "--poll", "0.1", "--json"], 1),
    ]
    if seed.kind == "run":
        choices += [
            (["compare", p], 2),
            (["report", p], 2),
            (["run", "--resume", "--out", str(target.parent), "--name", target.name], 2),
        ]
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


class WouldTrain(Exception):
    """Raised instead of training: `run --resume` accepted the run directory (never trained here)."""


def _no_training(*args, **kw):
    raise WouldTrain()


def _unblock_pipes(root: Path) -> None:
    """Give every named pipe under ``root`` a writer that closes at once: a read blocked in opening
    one (where the alarm cannot reach: it may be delivered to another thread) then sees its end."""
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = Path(dirpath) / f
            if p.is_fifo():
                with contextlib.suppress(OSError):
                    os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))


def invoke(
    argv: list[str], limit: float = TIME_LIMIT, pipes: Path | None = None
) -> tuple[int | None, str, str, BaseException | None]:
    """Run ``main(argv)`` with captured output and a time limit: (exit code, stdout, stderr, escaped).
    Training is replaced by `WouldTrain`, which main reports like any error (judged apart)."""
    import phasescope.train.runner as runner
    from phasescope.cli import main

    trainer, runner.run_experiment = runner.run_experiment, _no_training

    out, err = io.StringIO(), io.StringIO()
    code, escaped = 0, None

    def alarm(signum, frame):
        raise Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit, 1.0)  # again every second, should one be swallowed
    watchdog = threading.Timer(limit + 0.5, _unblock_pipes, [pipes]) if pipes else None
    if watchdog:
        watchdog.start()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Hang as exc:
        code, escaped = None, exc
    except BaseException as exc:  # noqa: BLE001 - counting what escapes is the point
        code, escaped = None, exc
    finally:
        runner.run_experiment = trainer  # only the fuzzed command must not train; later tests may
        if watchdog:
            watchdog.cancel()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue(), escaped


def judge(argv: list[str], code, stdout: str, stderr: str, escaped) -> tuple[str | None, str]:
    if isinstance(escaped, Hang):
        return "hang", ""
    if escaped is not None:
        return "traceback", f"{type(escaped).__name__}: {str(escaped)[:200]}"
    if "Traceback" in stderr:
        return "traceback", stderr.strip().splitlines()[-1][:200]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    if argv[0] == "run" and code == 1 and len(errors) == 1 and "WouldTrain" in errors[0]:
        return None, "accepted"  # a still-valid run directory: resuming it is right (not trained here)
    if code not in (0, 1, 2):
        return "exit_code", f"exit {code}"
    if code == 1 and any("internal error" in e for e in errors):
        return "crash", errors[0][:300]
    if code == 1 and argv[0] != "check":
        return "exit_1", (errors or ["(no error line)"])[0][:300]
    if code and len(errors) != 1 and argv[0] != "check":
        return ("multi_error" if errors else "silent_error"), " | ".join(errors)[:300]
    stray = [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("note:", "warning:", "error:", "  "))
    ]
    if stray and argv[0] not in ("check",):
        return "stray_stderr", stray[0][:200]
    if code == 0 and "--json" in argv:
        try:
            if argv[0] == "watch":
                [_strict(line) for line in stdout.splitlines() if line.strip()]
            else:
                _strict(stdout)
        except ValueError as exc:
            return "invalid_json", str(exc)[:200]
    return None, ""


def run_case(
    case: int, seeds: list[Seed], corpus: Path, work: Path, metrics: dict[str, list[str]]
) -> Verdict:
    """Copy a seed, mutate it, run one command on it, and judge the result."""
    rng = random.Random(case)
    seed = rng.choice(seeds)
    case_dir = work / f"case{case}"
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    src = corpus / seed.rel
    target = case_dir / "in" / src.name
    target.parent.mkdir()
    if src.is_dir():
        shutil.copytree(src, target, symlinks=True)
    else:
        shutil.copy(src, target)
    try:
        names = _mutate_case(seed, target, rng)
    except Exception as exc:  # noqa: BLE001 - a bug of the fuzzer: counted, and the run goes on
        shutil.rmtree(case_dir, ignore_errors=True)
        return Verdict(case, seed.rel, [], [], None, "fuzzer_error", f"{type(exc).__name__}: {exc}"[:200])
    known = metrics.get(seed.rel) or [seed.metric]
    metric = rng.choice([*known, seed.metric, "no/such_metric"] if known else [seed.metric])
    argv = _argv(seed, target, case_dir / "out", metric, rng)
    before = _digest(case_dir / "in")
    code, stdout, stderr, escaped = invoke(argv, pipes=case_dir)
    failure, detail = judge(argv, code, stdout, stderr, escaped)
    if failure is None and _digest(case_dir / "in") != before:
        failure, detail = "wrote_input", "files of the input changed"
    if failure in ("crash", "traceback") and escaped is None:
        detail = _debug_detail(argv) or detail
    shutil.rmtree(case_dir, ignore_errors=True)
    return Verdict(case, seed.rel, names, argv, code, failure, detail)


def _debug_detail(argv: list[str]) -> str:
    """Where a crash happened: rerun with --debug and name the innermost phasescope frame."""
    import traceback

    code, _, _, escaped = invoke([*argv, "--debug"])
    if escaped is None or isinstance(escaped, Hang):
        return ""
    frames = [f for f in traceback.extract_tb(escaped.__traceback__) if "phasescope" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].name}" if frames else "?"
    return f"{type(escaped).__name__} in {where}: {str(escaped)[:150]}"


def known_metrics(seeds: list[Seed], corpus: Path) -> dict[str, list[str]]:
    """The metrics each unmutated seed holds (a segment -m on a mutated copy names one of them)."""
    from phasescope.runlog.importers import load_curves

    out = {}
    for s in seeds:
        if s.kind == "config":
            continue
        try:
            frame, _ = load_curves(corpus / s.rel)
        except Exception:  # noqa: BLE001 - a seed that is itself refused (raw stdout) has no metrics
            continue
        out[s.rel] = sorted(frame["metric"].unique())[:8]
    return out


def summary(verdicts: list[Verdict]) -> str:
    from collections import Counter

    fails = [v for v in verdicts if v.failure]
    kinds = Counter(v.failure for v in fails)
    distinct = Counter((v.failure, v.detail[:120]) for v in fails)
    lines = [f"{len(verdicts)} cases, {len(fails)} failures, {len(distinct)} distinct"]
    lines += [f"  {k:<14} {n}" for k, n in sorted(kinds.items())]
    for (kind, detail), n in distinct.most_common(40):
        ex = next(v for v in fails if v.failure == kind and v.detail[:120] == detail)
        lines.append(f"  [{kind}] x{n} {detail}  (case {ex.case}: {ex.seed} {ex.mutations} {ex.argv[0]})")
    return "\n".join(lines)


def run_many(cases, corpus: Path, work: Path, out=sys.stdout) -> list[Verdict]:
    from tests.fuzz.corpus import build

    seeds = build(corpus)
    metrics = known_metrics(seeds, corpus)
    return [run_case(c, seeds, corpus, work, metrics) for c in cases]
