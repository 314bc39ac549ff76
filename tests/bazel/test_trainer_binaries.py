"""The Bazel-built trainers, built from a clean clone of the committed tree as CI and users get it:
reproducible bytes, only the workflow's own dependencies (and only those fetched), the commit they
came from, and a build that stops on a tampered lock."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, example_spec, write_spec

pytestmark = pytest.mark.slow

if shutil.which("bazel") is None:
    pytest.skip("Bazel is not installed (make test installs it)", allow_module_level=True)


def bazel(workspace: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_CACHE_DIR": str(REPO / ".cache" / "pip")}
    run = subprocess.run(
        ["bazel", f"--output_user_root={REPO / '.cache' / 'bazel'}", *args],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=1800,
    )
    if check and run.returncode != 0:
        raise AssertionError(f"bazel {' '.join(args)} failed:\n{run.stderr[-4000:]}")
    return run


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone of HEAD with its own Bazel output base."""
    path = tmp_path_factory.mktemp("bazel") / "railyard"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(path)], check=True)
    yield path
    bazel(path, "shutdown", check=False)


@pytest.fixture(scope="module")
def fraud_pex(clone) -> Path:
    bazel(clone, "build", "//workflows:fraud_train")
    return clone / "bazel-bin" / "workflows" / "fraud_train.pex"


def head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def test_two_clean_builds_are_byte_identical(clone, fraud_pex):
    first = sha256(fraud_pex)
    bazel(clone, "clean")
    bazel(clone, "build", "//workflows:fraud_train")
    assert sha256(fraud_pex) == first


def test_fraud_trainer_holds_its_dependencies_and_no_torch(fraud_pex):
    with zipfile.ZipFile(fraud_pex) as archive:
        info = json.loads(archive.read("PEX-INFO"))
        names = archive.namelist()
        build_info = json.loads(archive.read("railyard/_build_info.json"))
    wheels = set(info["distributions"])
    assert any(w.startswith("xgboost_cpu-") for w in wheels)
    assert any(w.startswith("scikit_learn-") for w in wheels)
    assert not any(w.startswith(("torch-", "nvidia")) for w in wheels)
    assert not any(n.startswith(".deps/") and "torch" in n.lower() for n in names)
    assert info["venv"] is True
    assert "workflows/fraud/workflow.py" in names and "workflows/mlp/workflow.py" not in names
    assert build_info["target"] == "//workflows:fraud_train"
    assert "xgboost-cpu==3.2.0" in build_info["requirements"]


def test_building_the_fraud_trainer_fetches_only_its_closure(clone, fraud_pex):
    """One repository per locked package: building the fraud trainer downloads its own closure, never
    torch, Prophet, the service's packages or the GPU wheels."""
    external = Path(bazel(clone, "info", "output_base").stdout.strip()) / "external"
    fetched = {p.name for p in external.iterdir() if p.is_dir() and p.name.startswith("pypi")}
    assert {"pypi", "pypi__tools", "pypi_xgboost_cpu", "pypi_scikit_learn", "pypi_numpy"} <= fetched
    assert not fetched & {"pypi_torch", "pypi_prophet", "pypi_fasttext_wheel", "pypi_fastapi", "pypi_pytest"}
    assert not [name for name in fetched if name.startswith("pypi_gpu_")]


def test_fraud_trainer_holds_the_runtime_and_not_the_service(fraud_pex):
    with zipfile.ZipFile(fraud_pex) as archive:
        names = [n for n in archive.namelist() if n.startswith("railyard/")]
    assert "railyard/trainer.py" in names and "railyard/pipeline/run.py" in names and "railyard/storage/s3.py" in names
    service = ("railyard/api/", "railyard/launch/", "railyard/binaries/", "railyard/cli.py", "railyard/client.py")
    assert not [n for n in names if n.startswith(service)]


def test_editing_the_service_leaves_the_trainer_unchanged(clone, fraud_pex):
    """A route, the launcher or the command line is no part of a trainer: editing them changes no
    trainer's bytes, editing the runtime does. Unstamped builds: a stamped one records the dirty tree."""
    service = [clone / "railyard" / "api" / "routes" / "health.py", clone / "railyard" / "launch" / "render.py",
               clone / "railyard" / "cli.py"]
    runtime = clone / "railyard" / "trainer.py"
    originals = {path: path.read_text() for path in [*service, runtime]}

    def build() -> str:
        bazel(clone, "build", "--nostamp", "//workflows:fraud_train")
        return sha256(fraud_pex)

    try:
        before = build()
        for path in service:
            path.write_text(originals[path] + "\n# edited\n")
        assert build() == before
        runtime.write_text(originals[runtime] + "\n# edited\n")
        assert build() != before
    finally:
        for path, text in originals.items():
            path.write_text(text)
        bazel(clone, "build", "//workflows:fraud_train")  # the stamped build the other tests read


def test_copied_pex_runs_elsewhere_with_only_python_on_path(tmp_path, fraud_pex, charges_path):
    elsewhere, bin_dir = tmp_path / "elsewhere", tmp_path / "bin"
    elsewhere.mkdir()
    bin_dir.mkdir()
    (bin_dir / "python3.11").symlink_to(os.path.realpath(sys.executable))
    copied = elsewhere / "fraud_train.pex"
    shutil.copyfile(fraud_pex, copied)
    copied.chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home"), "PEX_ROOT": str(tmp_path / "pex_root")}

    info = json.loads(subprocess.run([str(copied), "--build-info"], cwd=elsewhere, env=env,
                                     capture_output=True, text=True, check=True).stdout)
    assert info["git_commit"] == head_commit()
    assert info["git_dirty"] is False and info["source"] == "stamped"
    assert info["binary_sha256"] == sha256(copied)

    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 20
    run = subprocess.run([str(copied), "--spec", str(write_spec(tmp_path, spec)), "--output", "out"],
                         cwd=elsewhere, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    status = json.loads((elsewhere / "out" / "result.json").read_text())["status"]
    assert status["git_commit"] == head_commit()
    assert status["binary_sha256"] == sha256(copied)
    assert status["build_target"] == "//workflows:fraud_train"


def test_unstamped_build_says_unknown(clone, tmp_path):
    bazel(clone, "build", "--nostamp", "//workflows:logreg_train")
    pex = clone / "bazel-bin" / "workflows" / "logreg_train.pex"
    with zipfile.ZipFile(pex) as archive:
        build_info = json.loads(archive.read("railyard/_build_info.json"))
    assert build_info["git_commit"] == "unknown" and build_info["source"] == "unstamped"


def test_tampered_wheel_hash_fails_the_build(clone):
    lock = clone / "requirements.lock"
    original = lock.read_text()
    start = original.index("xgboost-cpu==")
    digest_at = original.index("--hash=sha256:", start) + len("--hash=sha256:")
    tampered = original[:digest_at] + "0" * 64 + original[digest_at + 64 :]
    following = tampered.index("\n", digest_at)
    # Leave only the forged hash for xgboost-cpu, so no genuine wheel can match.
    block_end = tampered.index("\n    # via", start)
    tampered = tampered[:following] + tampered[block_end:]
    lock.write_text(tampered)
    try:
        run = bazel(clone, "build", "//workflows:fraud_train", check=False)
    finally:
        lock.write_text(original)
    assert run.returncode != 0
    assert "xgboost-cpu==3.2.0" in run.stderr
    assert "is not among the lock's hashes for it; refusing to build" in run.stderr


def test_a_bazel_command_typed_in_the_checkout_uses_the_output_root_make_uses():
    """`bazel run //workflows:…` as docs/workflows.md gives it, from any folder of the checkout: one Bazel server."""
    for folder in (REPO, REPO / "workflows"):
        info = subprocess.run(["bazel", "info", "output_base"], cwd=folder, capture_output=True, text=True, timeout=300)
        assert info.returncode == 0, info.stderr
        assert Path(info.stdout.strip()).is_relative_to(REPO / ".cache" / "bazel")
