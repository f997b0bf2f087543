"""Peak memory of drawing a 6k-row subset from a 1M-row local Parquet file: before and after
sources are kept as `datasets.Dataset`s.

Usage: python benchmarks/dataset_memory.py [--rows 1000000] [--n 6000] [--keep DIR]

Writes an OpenR1-shaped Parquet file (problem ~250 characters, solution ~1000, answer, source) in a
temp dir, then runs `load_examples(..., limit=n, seed=0)` in a fresh Python process per way, so each
peak is clean. Two peaks per process: RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`), which also
counts the pages of the memory-mapped Arrow cache that reading touched (page cache: shared,
reclaimable, and with readahead most of the file even for 6k random rows), and anonymous memory
(`RssAnon` of /proc/self/status, sampled every 2 ms): what the process itself holds.

- old: phasescope/data/sources.py as of commit 0397382 (`git show`), which turned the whole split
  into a list of dicts before drawing;
- new: this checkout's sources.py.

Each way runs once with an empty HF datasets cache (the first read converts Parquet to Arrow) and
once with the cache that run left (every later read). A process that only imports datasets and
phasescope.data gives the floor. Prints one line per run.

Measured (`python benchmarks/dataset_memory.py`, 1M rows, 73 MiB Parquet, 6000 drawn; 2 shared
CPU cores, datasets 5.2, 2026-11-30), peak RSS / peak anonymous memory in MiB:

    floor (imports only)      175 /   81
    old, cold cache          3782 / 2566
    old, warm cache          3067 / 1852
    new, cold cache          1286 / 1058   (datasets converting Parquet to its Arrow cache, once)
    new, warm cache          1268 /  171   (~1.1 GiB of the RSS is the mapped Arrow cache's pages)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OLD_COMMIT = "0397382"

CHILD = r"""
import importlib.util, json, resource, sys, threading, time

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) / 1024

peak_anon = [0.0]
def sample():
    while True:
        peak_anon[0] = max(peak_anon[0], status("RssAnon:"))
        time.sleep(0.002)
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
import datasets  # noqa: F401
spec = importlib.util.spec_from_file_location("sources_under_test", sys.argv[1])
mod = sys.modules["sources_under_test"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
n = 0
if sys.argv[2] != "-":
    ex, skipped = mod.load_examples(
        sys.argv[2], prompt_field="problem", answer_field="answer", response_field="solution",
        limit=int(sys.argv[3]), seed=0,
    )
    n = len(ex)
wall = time.perf_counter() - t0
peak_anon[0] = max(peak_anon[0], status("RssAnon:"))
print(json.dumps({"examples": n, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "peak_anon_mb": peak_anon[0], "wall_s": wall}))
"""


def write_parquet(path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    filler = "Let x be the number of apples; each basket holds twelve and three are left over. "
    chunk = 100_000
    with pq.ParquetWriter(
        path, pa.schema([(c, pa.string()) for c in ("problem", "answer", "solution", "source")])
    ) as w:
        for start in range(0, rows, chunk):
            ids = range(start, min(start + chunk, rows))
            w.write_table(
                pa.table(
                    {
                        "problem": [f"Problem {i}: " + filler * 3 for i in ids],
                        "answer": [str(i % 997) for i in ids],
                        "solution": [
                            f"<think>{i} " + filler * 12 + f"</think> \\boxed{{{i % 997}}}" for i in ids
                        ],
                        "source": ["synthetic"] * len(ids),
                    }
                )
            )


def run_child(sources_py: Path, data: str, n: int, cache: Path) -> dict:
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(sources_py), data, str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--keep", default=None, help="work in this folder (kept) instead of a temp dir")
    ap.add_argument("--write", default=None, help=argparse.SUPPRESS)  # the child that writes the file
    args = ap.parse_args()
    if args.write:
        write_parquet(Path(args.write), args.rows)
        return 0
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="phasescope-dsmem-"))
    tmp.mkdir(parents=True, exist_ok=True)
    old_py = tmp / "sources_old.py"
    old = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{OLD_COMMIT}:phasescope/data/sources.py"],
        capture_output=True,
        text=True,
    )
    if old.returncode != 0:
        raise SystemExit(f"cannot read the old sources.py from git: {old.stderr.strip()}")
    old_py.write_text(old.stdout)
    new_py = REPO / "phasescope" / "data" / "sources.py"
    data = tmp / "rows.parquet"
    if not data.exists():
        # In a child, so this process stays small: a child's ru_maxrss starts from its parent's RSS.
        subprocess.run([sys.executable, __file__, "--write", str(data), "--rows", str(args.rows)], check=True)
    print(f"{args.rows} rows, {data.stat().st_size / 2**20:.0f} MiB Parquet; drawing {args.n} rows")
    results = {"floor (imports only)": run_child(new_py, "-", 0, tmp / "cache-floor")}
    for way, py in (("old", old_py), ("new", new_py)):
        cache = tmp / f"cache-{way}"
        results[f"{way}, cold cache"] = run_child(py, str(data), args.n, cache)
        results[f"{way}, warm cache"] = run_child(py, str(data), args.n, cache)
    for name, r in results.items():
        print(
            f"{name:22s} peak RSS {r['peak_rss_mb']:6.0f} MiB  peak anonymous {r['peak_anon_mb']:6.0f} MiB  "
            f"wall {r['wall_s']:5.1f} s  examples {r['examples']}"
        )
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
