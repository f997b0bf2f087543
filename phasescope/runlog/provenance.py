"""What shaped the numbers of a run, for experiment.json: package versions, model and data revisions.

A hub model or dataset is named by the commit of its snapshot in the local Hugging Face cache (read
from the cache's `refs/`, no network); a local model folder by a fingerprint of its files (small
files by content, weight files by name, size and modification time, so that hashing never reads
gigabytes); a local data file by the SHA-256 of its content, a local dataset folder by the content of
every file. Two runs with equal fingerprints read the same bytes (weights: the same files, untouched).
No torch, no network.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import platform
from pathlib import Path
from typing import Any

from phasescope.data.sources import parse_source, split_source
from phasescope.errors import UsageError

PACKAGES = (
    "phasescope",
    "torch",
    "transformers",
    "trl",
    "accelerate",
    "datasets",
    "tokenizers",
    "math-verify",
    "peft",
    "vllm",
    "deepspeed",
    "ruptures",
    "pandas",
    "scipy",
    "numpy",
)
"""Every package whose version can change a logged number (absent ones are recorded as None)."""
SMALL_FILE = 16 * 2**20
"""Files up to this size are hashed by content in a model folder (config, tokenizer, generation config)."""


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when it is not installed), and Python's."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def file_sha256(path: Path, chunk: int = 2**20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def folder_fingerprint(folder: Path, content_limit: int | None = SMALL_FILE) -> dict[str, Any]:
    """SHA-256 over every file's relative path and either its content hash (files up to
    `content_limit` bytes; all files when None) or its size and mtime (larger files)."""
    h = hashlib.sha256()
    files, total = 0, 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts):
        st = path.stat()
        rel = path.relative_to(folder).as_posix()
        if content_limit is None or st.st_size <= content_limit:
            h.update(f"{rel}\0{file_sha256(path)}\n".encode())
        else:
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        files, total = files + 1, total + st.st_size
    return {
        "kind": "local folder",
        "path": str(folder.resolve()),
        "sha256": h.hexdigest(),
        "files": files,
        "bytes": total,
    }


def hub_cached_commit(
    repo_id: str, repo_type: str = "model", revision: str = "main", cache_dir: str | Path | None = None
) -> str | None:
    """The commit of `repo_id`'s snapshot in the local Hugging Face cache (no network), or None."""
    if cache_dir is None:
        from huggingface_hub import constants  # only here: runlog's readers never need the hub

        cache_dir = os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE
    repo = Path(cache_dir) / f"{repo_type}s--{repo_id.replace('/', '--')}"
    ref = repo / "refs" / revision
    if ref.is_file():
        return ref.read_text().strip() or None
    snapshots = [p.name for p in (repo / "snapshots").glob("*") if p.is_dir()] if repo.is_dir() else []
    return snapshots[0] if len(snapshots) == 1 else None


def model_revision(name_or_path: str, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """A local folder's fingerprint, or a hub id with its cached commit (None when not cached)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return folder_fingerprint(path)
    return {
        "kind": "hub",
        "id": name_or_path,
        "commit": hub_cached_commit(name_or_path, "model", cache_dir=cache_dir),
    }


def data_revision(
    source: str, default_split: str = "train", cache_dir: str | Path | None = None
) -> dict[str, Any]:
    """A local file's content hash, a local folder's (every file by content), or a hub dataset's commit."""
    try:
        src = parse_source(source, default_split)
        path_or_id, split = src.path, src.split
    except UsageError:  # options the run itself rejects; record the text as given
        path_or_id, split = split_source(source, default_split)
    path = Path(path_or_id).expanduser()
    if path.is_file():
        return {
            "kind": "file",
            "path": str(path.resolve()),
            "sha256": file_sha256(path),
            "bytes": path.stat().st_size,
        }
    if path.is_dir():
        return {**folder_fingerprint(path, content_limit=None), "split": split}
    commit = hub_cached_commit(path_or_id, "dataset", cache_dir=cache_dir)
    return {"kind": "hub", "id": path_or_id, "split": split, "commit": commit}


def provenance(
    model: str, sources: dict[str, tuple[str, str]], cache_dir: str | Path | None = None
) -> dict[str, Any]:
    """experiment.json's record: versions, the model's revision (None for the embedded world) and each
    data source's, `sources` mapping a role (rl_prompts, expert, eval:<name>) to (source, default split)."""
    return {
        "versions": package_versions(),
        "model_revision": model_revision(model, cache_dir) if model else None,
        "data_revisions": {
            role: data_revision(src, split, cache_dir) for role, (src, split) in sources.items()
        },
    }
