"""experiment.json's provenance: package versions, model and data revisions, no torch, no network."""

import hashlib
import subprocess
import sys

import numpy

from phasescope.runlog.provenance import (
    PACKAGES,
    data_revision,
    folder_fingerprint,
    hub_cached_commit,
    model_revision,
    package_versions,
    provenance,
)


def test_versions_of_every_package_that_shapes_the_numbers():
    v = package_versions()
    assert set(v) == {"python", *PACKAGES}
    assert v["numpy"] == numpy.__version__
    for pkg in ("torch", "transformers", "trl", "accelerate", "datasets", "math-verify", "peft", "scipy"):
        assert pkg in v  # None when not installed, never missing
    assert package_versions(("no-such-package-xyz",))["no-such-package-xyz"] is None


def test_local_model_fingerprint_follows_config_and_weights(tmp_path):
    m = tmp_path / "model"
    m.mkdir()
    (m / "config.json").write_text('{"hidden_size": 32}')
    (m / "model.safetensors").write_bytes(b"x" * 100)
    a = folder_fingerprint(m, content_limit=50)
    assert a == folder_fingerprint(m, content_limit=50) and a["files"] == 2 and a["bytes"] == 119
    (m / "config.json").write_text('{"hidden_size": 64}')
    b = folder_fingerprint(m, content_limit=50)
    assert b["sha256"] != a["sha256"]
    (m / "model.safetensors").write_bytes(b"y" * 101)  # a large file: by name, size and mtime
    assert folder_fingerprint(m, content_limit=50)["sha256"] != b["sha256"]
    assert model_revision(str(m))["kind"] == "local folder"


def test_data_file_is_hashed_by_content(tmp_path):
    f = tmp_path / "rl.jsonl"
    f.write_text('{"problem": "1+1", "answer": "2"}\n')
    rev = data_revision(str(f))
    assert rev["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest() and rev["kind"] == "file"


def test_hub_commit_from_the_cache_only(tmp_path):
    repo = tmp_path / "datasets--HuggingFaceH4--MATH-500"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd\n")
    assert hub_cached_commit("HuggingFaceH4/MATH-500", "dataset", cache_dir=tmp_path) == "0123abcd"
    rev = data_revision("HuggingFaceH4/MATH-500:test", "test", cache_dir=tmp_path)
    assert rev == {"kind": "hub", "id": "HuggingFaceH4/MATH-500", "split": "test", "commit": "0123abcd"}
    snap = tmp_path / "models--Qwen--Qwen2.5-0.5B-Instruct" / "snapshots" / "feed42"
    snap.mkdir(parents=True)  # no refs/: the one snapshot names the commit
    assert model_revision("Qwen/Qwen2.5-0.5B-Instruct", cache_dir=tmp_path)["commit"] == "feed42"
    assert model_revision("org/not-cached", cache_dir=tmp_path)["commit"] is None
    rec = provenance("", {"eval:math500": ("HuggingFaceH4/MATH-500:test", "test")}, cache_dir=tmp_path)
    assert rec["model_revision"] is None and rec["data_revisions"]["eval:math500"]["commit"] == "0123abcd"


def test_provenance_imports_no_torch():
    code = "import sys, phasescope.runlog.provenance; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
