"""Does `model.model_name_or_path` resolve, without loading a weight? Local folder or hub id, and its tokenizer.

A string that looks like a path is never sent to the hub: a typo in `./models/qwen` is reported as
the missing folder it is, not retried against the network as a repository id. A hub id is looked up
once in the local Hugging Face cache; only when that misses and `HF_HUB_OFFLINE` is not set is
`config.json` fetched, once, with a short timeout. Only config.json and the tokenizer files are read.

huggingface_hub and transformers are imported inside the functions that need them (a real model):
checking the embedded world imports neither of them, nor torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
LOCAL_COPY = "or point model.model_name_or_path at a local copy (a folder written by save_pretrained)"


@dataclass
class ModelInfo:
    name: str
    where: str
    """local folder, HF cache (commit ...), or hub."""
    folder: Path | None
    """The folder holding config.json (a local folder or a cache snapshot); None when only on the hub."""
    config: dict[str, Any] = field(default_factory=dict)
    weights: list[tuple[str, int]] = field(default_factory=list)
    """(file name, size in bytes) of the weight files next to config.json."""


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set to a true value."""
    flags = (os.environ.get(k, "").strip().lower() for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(v in ("1", "true", "yes", "on") for v in flags)


def looks_like_path(text: str) -> bool:
    """A local path, never a hub id: starts with ./ ../ / ~, has more than one '/', a backslash, or
    exists (wholly, or its first component as a local folder: `models/qwen` when ./models exists)."""
    if text.startswith(("./", "../", "/", "~", ".\\")) or text in (".", "..") or "\\" in text:
        return True
    if text.count("/") > 1 or Path(text).exists():
        return True
    parts = Path(text).parts
    return len(parts) > 1 and Path(parts[0]).is_dir()


def nearest_existing(path: Path) -> Path | None:
    """The deepest folder above `path` that exists (to show where a typo'd path goes wrong)."""
    for parent in path.parents:
        if parent.is_dir():
            return parent
    return None


def _weights(folder: Path) -> list[tuple[str, int]]:
    return sorted(
        (p.name, p.stat().st_size)
        for p in folder.iterdir()
        if p.is_file() and p.suffix in WEIGHT_SUFFIXES and not p.name.startswith("training_args")
    )


def _missing_shards(folder: Path) -> list[str]:
    missing = []
    for index in folder.glob("*.index.json"):
        try:
            shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
        except (OSError, ValueError):
            return [index.name]
        missing += sorted(s for s in shards if not (folder / s).exists())
    return missing


def _from_folder(name: str, folder: Path, where: str) -> tuple[ModelInfo | None, str | None]:
    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        return None, (
            f"model.model_name_or_path {name!r} has no config.json ({folder}); "
            "point it at the folder save_pretrained wrote"
        )
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"{cfg_file} is not readable JSON ({exc}); re-save the model with save_pretrained"
    info = ModelInfo(name, where, folder, config, _weights(folder))
    missing = _missing_shards(folder)
    if missing:
        return None, (
            f"model {name!r}: {len(missing)} weight shard(s) listed in the index are missing from {folder} "
            f"(e.g. {missing[0]}); copy the whole model folder"
        )
    return info, None


def _local(name: str) -> tuple[ModelInfo | None, str | None]:
    path = Path(name).expanduser()
    if not path.exists():
        near = nearest_existing(path.absolute())
        hint = f" (the nearest existing folder is {near})" if near is not None else ""
        return None, (
            f"model.model_name_or_path {name!r} does not exist{hint}; fix the path "
            "(a local folder written by save_pretrained) or give a hub id such as Qwen/Qwen2.5-0.5B-Instruct"
        )
    if not path.is_dir():
        return None, f"model.model_name_or_path {name!r} is a file; give the folder that holds config.json"
    return _from_folder(name, path, "local folder")


def _hub(name: str) -> tuple[ModelInfo | None, str | None]:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except HFValidationError:
        return None, (
            f"model.model_name_or_path {name!r} is neither a local folder nor a valid hub id; "
            "fix the path or give a hub id such as Qwen/Qwen2.5-0.5B-Instruct"
        )
    if isinstance(cached, str):
        folder = Path(cached).parent
        return _from_folder(name, folder, f"HF cache (commit {folder.name[:12]})")
    if offline():
        return None, (
            f"model {name!r} is not a local folder and not in the Hugging Face cache, and HF_HUB_OFFLINE is set; "
            f"download it where there is network (hf download {name}), {LOCAL_COPY}"
        )
    err = hub_probe(name, "model")
    if err:
        return None, f"model {name!r}: {err}; {LOCAL_COPY}"
    try:
        folder = Path(hf_hub_download(name, "config.json", etag_timeout=10)).parent
    except Exception as exc:  # noqa: BLE001 - reachable a moment ago: one line, no retry loop
        return None, f"model {name!r}: config.json could not be fetched ({type(exc).__name__}); {LOCAL_COPY}"
    info, err = _from_folder(
        name, folder, f"hub (commit {folder.name[:12]}; weights download at the first run)"
    )
    return info, err


def hub_probe(repo_id: str, repo_type: str) -> str | None:
    """One request for the repository's metadata (no retry loop): None when reachable, else why not."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        HfApi().repo_info(repo_id, repo_type=repo_type, timeout=10)
    except GatedRepoError:
        return "gated on the hub: accept its licence there and `hf auth login`"
    except RepositoryNotFoundError:
        return f"no such {repo_type} repository on the hub (or it is private: `hf auth login`)"
    except Exception as exc:  # noqa: BLE001 - no network, a proxy, a timeout
        return (
            f"the hub cannot be reached ({type(exc).__name__}); on a machine without network set "
            "HF_HUB_OFFLINE=1 to use the local cache"
        )
    return None


def resolve_model(name: str) -> tuple[ModelInfo | None, str | None]:
    """(what was found, None) or (None, a one-line error naming the path or id and the fix)."""
    return _local(name) if looks_like_path(name) else _hub(name)


def load_tokenizer(info: ModelInfo) -> tuple[Any, str | None]:
    """The tokenizer (tokenizer files only, no weights), or (None, a one-line error)."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(info.folder or info.name)), None
    except Exception as exc:  # noqa: BLE001 - missing files, a bad tokenizer.json: one line
        msg = " ".join(str(exc).split())[:200]
        return None, (
            f"cannot load the tokenizer of {info.name!r} ({type(exc).__name__}: {msg}); "
            "the model folder needs its tokenizer files (save the tokenizer with save_pretrained too)"
        )


def model_summary(info: ModelInfo) -> str:
    """`Qwen2ForCausalLM, 2 layers, hidden 32, vocab 259; weights: 1 file, 0.1 MB`."""
    c = info.config
    arch = ", ".join(c.get("architectures") or []) or c.get("model_type", "?")
    parts = [arch]
    for key, label in (("num_hidden_layers", "layers"), ("hidden_size", "hidden"), ("vocab_size", "vocab")):
        if key in c:
            parts.append(f"{c[key]:,} {label}" if label == "layers" else f"{label} {c[key]:,}")
    if info.folder is not None:
        size = sum(s for _, s in info.weights) / 1e6
        n = len(info.weights)
        parts.append(f"weights: {n} file{'s' * (n != 1)}, {size:,.1f} MB" if n else "weights: none found")
    return ", ".join(parts)
