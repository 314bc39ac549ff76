"""Railyard outside its checkout: `pip install .` and the `//:railyard_service` pex each give a
`railyard` command that serves and renders from any directory (dashboard templates, Alembic
migrations and Kubernetes templates found as package data), and the trainer's import graph stays
inside the runtime that `railyard/BUILD.bazel` packages into every trainer."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import REPO, example_spec, free_port, write_spec

# What the trainer must never import, and must never carry.
SERVICE_MODULES = ("railyard.api", "railyard.launch", "railyard.binaries", "railyard.cli", "railyard.client", "railyard.scoring")
SERVICE_DATA = (
    "railyard/api/templates/jobs.html",
    "railyard/api/store/migrations/env.py",
    "railyard/api/store/migrations/script.py.mako",
    "railyard/api/store/migrations/versions/0001_initial.py",
    "railyard/launch/templates/job.yaml.j2",
    "railyard/launch/templates/resource_classes.yaml",
)


def runtime_patterns() -> list[str]:
    """The RUNTIME globs of railyard/BUILD.bazel: the sources every trainer pex holds."""
    block = re.search(r"^RUNTIME = \[(.*?)\]", (REPO / "railyard" / "BUILD.bazel").read_text(), re.S | re.M)
    return re.findall(r'"([^"]+)"', block.group(1))


def in_runtime(relative: str, patterns: list[str]) -> bool:
    return any(relative.startswith(p.split("**")[0]) if "**" in p else relative == p for p in patterns)


def test_the_trainer_imports_only_the_runtime():
    workflows = sorted(p.parent.name for p in (REPO / "workflows").glob("*/workflow.py"))
    code = "; ".join([
        "import sys, railyard, railyard.trainer, railyard.pipeline.run",
        *(f"import workflows.{name}.workflow" for name in workflows),
        "print('\\n'.join(f'{n} {getattr(m, \"__file__\", None)}' for n, m in sys.modules.items() if n.startswith('railyard')))",
    ])
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert not [n for n in loaded if n.startswith(SERVICE_MODULES)]
    patterns = runtime_patterns()
    outside = [n for n, f in loaded.items() if f != "None" and not in_runtime(Path(f).relative_to(REPO / "railyard").as_posix(), patterns)]
    assert not outside, f"the trainer imports modules that railyard/BUILD.bazel leaves out of RUNTIME: {outside}"


@dataclass
class Railyard:
    """How to run a `railyard` command that knows nothing of this checkout."""

    argv: list[str]
    env: dict[str, str]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "RAILYARD_", "PEX"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def pip_installed(tmp_path_factory) -> Railyard:
    """`pip install .` into a fresh virtualenv, offline.

    pip builds in the source tree, so the sources are copied out of the shared checkout first. pip,
    setuptools and the third-party packages come from this interpreter's site-packages through a
    plain path line in a .pth file: that directory's own .pth files (the editable install of this
    checkout among them) stay unread, so `railyard` can only come from what pip installed.
    """
    root = tmp_path_factory.mktemp("pip")
    source = root / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_build_info.json", "*.egg-info", "BUILD.bazel")
    for package in ("railyard", "workflows"):
        shutil.copytree(REPO / package, source / package, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, source / name)
    venv = root / "venv"
    # Without pip: ensurepip's own pip and setuptools would shadow the project's (which build wheels).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "railyard-test-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
                    "--no-deps", "--no-build-isolation", "--ignore-installed", str(source)],
                   check=True, capture_output=True)
    made = [p.relative_to(source) for p in source.rglob("*") if p.is_dir() and (p.name == "build" or p.name.endswith(".egg-info"))]
    assert made, "pip built in the source tree"
    for path in made:  # what `pip install .` leaves in a checkout, git ignores
        assert subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", f"{path}/x"]).returncode == 0, f"{path} is not ignored"
    shutil.rmtree(source)  # nothing may be read from the sources after the install
    env = clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    where = subprocess.run([str(python), "-c", "import railyard; print(railyard.__file__)"], cwd=root, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    return Railyard([str(venv / "bin" / "railyard")], env)


@pytest.fixture(scope="module")
def service_pex(tmp_path_factory) -> Path:
    """//:railyard_service, built in this checkout and copied to a directory of its own."""
    if shutil.which("bazel") is None:
        pytest.skip("Bazel is not installed (make test installs it)")
    from railyard.launch.binary import build_target

    copied = tmp_path_factory.mktemp("service") / "railyard_service.pex"
    shutil.copyfile(build_target("//:railyard_service"), copied)
    copied.chmod(copied.stat().st_mode | stat.S_IXUSR)
    return copied


@pytest.fixture(params=["pip", "pex"])
def railyard(request, tmp_path_factory) -> Railyard:
    if request.param == "pip":
        return request.getfixturevalue("pip_installed")
    pex = request.getfixturevalue("service_pex")
    return Railyard([str(pex)], clean_env(PEX_ROOT=str(tmp_path_factory.getbasetemp() / "pex_root")))


@pytest.mark.slow
def test_serve_answers_from_any_directory(railyard, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([*railyard.argv, "serve", "--port", str(port), "--db", str(tmp_path / "railyard.db")],
                                   cwd=tmp_path, env=railyard.env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline, health = time.monotonic() + 120, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None and health.status_code == 200, log.read_text()[-3000:]
        assert health.json()["database"] == "ok"  # the migrations ran
        signin = httpx.get(f"http://127.0.0.1:{port}/signin", timeout=5)  # a dashboard template
        assert signin.status_code == 200 and "<form" in signin.text
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_render_prints_the_manifests_from_any_directory(railyard, tmp_path, small_pex):
    spec = write_spec(tmp_path, example_spec("fraud", tmp_path / "charges.parquet"))
    run = subprocess.run([*railyard.argv, "render", "--spec", str(spec), "--binary", str(small_pex), "--job-id", "x"],
                         cwd=tmp_path, env=railyard.env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    manifests = list(yaml.safe_load_all(run.stdout))
    assert [m["kind"] for m in manifests] == ["NetworkPolicy", "ConfigMap", "Job"]
    job = manifests[2]
    assert job["metadata"]["name"] == "railyard-x"
    digest = hashlib.sha256(small_pex.read_bytes()).hexdigest()
    assert digest in yaml.safe_dump(job)
    # Sized by the default resource classes, read from the package.
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]


@pytest.mark.slow
def test_the_service_pex_holds_the_service_and_its_data(service_pex):
    with zipfile.ZipFile(service_pex) as archive:
        names = set(archive.namelist())
    assert "railyard/cli.py" in names and "railyard/api/app.py" in names and "railyard/trainer.py" in names
    assert set(SERVICE_DATA) <= names
    assert not any(n.startswith("workflows/") for n in names)


@pytest.mark.slow
def test_the_trainer_pex_holds_the_runtime_and_not_the_service(fraud_pex):
    with zipfile.ZipFile(fraud_pex) as archive:
        names = [n for n in archive.namelist() if n.startswith("railyard/")]
    assert "railyard/trainer.py" in names and "railyard/pipeline/run.py" in names
    service = [n for n in names if n.removesuffix(".py").replace("/", ".").startswith(SERVICE_MODULES)]
    assert not service
