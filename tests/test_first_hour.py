"""A newcomer's first hour, from a fresh clone, as the README and docs/workflows.md are written: `make demo`,
the trainer command the README gives next, the laptop service and its client, then a workflow over columns of
its own added by "Adding a workflow", whose `bazel run` trains and whose smoke test passes.

The clone is of this working tree (committed or not), with its own `.venv` and Bazel output root; it shares
only the pip cache, so every package is still installed from the lock. Commands typed by hand see no
`PIP_CACHE_DIR` of the Makefile's, and must find Bazel's fetched wheels as `make demo` left them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, free_port

README = (REPO / "README.md").read_text()
RECIPE = (REPO / "docs" / "workflows.md").read_text().split("## Adding a workflow", 1)[1].split("\n## ", 1)[0]
CHURN_WORKFLOW = '''"""ChurnModel: which subscribers leave, from their tenure, plan and monthly charges."""

import xgboost

from railyard import Workflow


class ChurnModel(Workflow):
    def train(self, training_dataframe, holdout_dataframe):
        params = {"n_estimators": 80, "max_depth": 3, "tree_method": "hist", "enable_categorical": True, **self.custom_params}
        model = xgboost.XGBClassifier(**params)
        return model.fit(training_dataframe[self.classifier_features], training_dataframe[self.classifier_label])
'''


def churn_data(path: Path, rows: int = 8_000) -> None:
    """The newcomer's own data: columns nothing in the checkout knows, a Yes/No label that depends on them."""
    rng = np.random.default_rng(3)
    tenure = rng.integers(1, 72, rows)
    plan = rng.choice(["monthly", "yearly", "two-year"], rows)
    charges = rng.gamma(4.0, 20.0, rows).round(2)
    risk = 1.5 - tenure / 24 + (plan == "monthly") * 1.2 + charges / 120
    left = rng.random(rows) < 1 / (1 + np.exp(-risk))
    pd.DataFrame({"tenure_months": tenure, "plan": pd.Categorical(plan), "monthly_charges": charges,
                  "churned": np.where(left, "Yes", "No")}).to_parquet(path, index=False)


def churn_spec(data: Path) -> dict:
    return {"metadata": {"model_name": "churn model", "owner": "growth", "project": "first-hour",
                         "model_description": "Which subscribers leave"},
            "data": {"features": [{"names": ["tenure_months", "plan", "monthly_charges", "churned"], "path": str(data)}]},
            "holdout_sampling": {"sampling_function": "RANDOM", "random_sampling": {"fraction": 0.25, "seed": 1}},
            "train": {"workflow_name": "ChurnModel", "classifier_features": ["tenure_months", "plan", "monthly_charges"],
                      "label": "churned", "positive_label": "Yes", "custom_params": {}}}


def block_after(text: str, marker: str) -> list[str]:
    """The command lines of the first code block after `marker`, without their comments."""
    block = text.split(marker, 1)[1].split("```", 2)[1]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def fresh_clone(into: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source, target = REPO / name, into / name
        if source.is_file() or source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                target.symlink_to(os.readlink(source))
            else:
                target.write_bytes(source.read_bytes())
                target.chmod(source.stat().st_mode)
    git = ["git", "-c", "user.name=newcomer", "-c", "user.email=newcomer@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "a fresh clone"]):
        subprocess.run([*git, *command], cwd=into, check=True)
    (into / ".cache").mkdir()
    (into / ".cache" / "pip").symlink_to(REPO / ".cache" / "pip")
    return into


def typed(command: str, cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    """A command line as a user types it in the clone's directory."""
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"$ {command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def fetched_wheels(clone: Path, env: dict) -> dict[str, float]:
    """When each external repository of the clone's Bazel was last fetched (its marker file's mtime)."""
    base = Path(typed("bazel info output_base", clone, env).stdout.strip())
    return {marker.name: marker.stat().st_mtime for marker in (base / "external").glob("*.marker")}


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read() if server.stderr else "serve exited"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


@pytest.mark.slow
def test_the_first_hour_as_the_readme_and_the_recipe_say(tmp_path):
    clone = fresh_clone(tmp_path / "railyard")
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PIP_CACHE_DIR", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
           and not k.startswith(("RAILYARD_", "PYTEST_"))}
    env["DEMO_ROWS"] = "20000"  # the Makefile's own knob: a tenth of the sample, for the test's time
    server = None
    try:
        # Quick start.
        demo = typed("make demo", clone, env, timeout=1800)
        assert "[railyard] complete: model sha256." in demo.stdout + demo.stderr
        wheels = fetched_wheels(clone, env)
        assert wheels

        # The README's next command, then the laptop service and its client.
        [trainer] = re.findall(r"`(bin/railyard-train [^`]+)`", README)[:1]
        assert "[railyard] complete: model sha256." in typed(trainer, clone, env).stderr
        port = free_port()
        service_env = {**env, "RAILYARD_URL": f"http://127.0.0.1:{port}"}
        serve, *client_commands = block_after(README, "On a laptop")
        assert serve == "bin/railyard serve --dev"
        server = subprocess.Popen([*shlex.split(serve), "--port", str(port)], cwd=clone, env=env, text=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        wait_healthy(service_env["RAILYARD_URL"], server)
        outputs = [typed(command, clone, service_env) for command in client_commands]
        submitted = outputs[0].stdout
        assert " complete" in submitted, submitted
        job_id = submitted.split()[0]
        listed = outputs[-1].stdout.splitlines()
        assert listed[0].split()[:2] == ["CREATED", "STATE"] and any(job_id in line and "complete" in line for line in listed)

        # Adding a workflow, as the recipe writes it, for columns of the newcomer's own.
        data = tmp_path / "churn.parquet"
        churn_data(data)
        package = clone / "workflows" / "churn"
        package.mkdir()
        (package / "workflow.py").write_text(CHURN_WORKFLOW)
        (package / "spec.json").write_text(json.dumps(churn_spec(data), indent=2))
        [sample] = re.findall(r"```python\n( *import pyarrow.*?)\n *```", RECIPE, flags=re.S)
        sample = textwrap.dedent(sample).replace('"Default.parquet"', repr(str(data))).replace("workflows/credit/", "workflows/churn/")
        typed(f".venv/bin/python -c {shlex.quote(sample)}", clone, env)
        assert len(pd.read_parquet(package / "smoke.parquet")) == 3000
        [target] = re.findall(r"```python\n *(railyard_trainer\(.*?\n *\))\n *```", RECIPE, flags=re.S)
        with (clone / "workflows" / "BUILD.bazel").open("a") as build:
            build.write("\n" + target.replace("credit", "churn") + "\n")
        run_command, test_command = (re.search(rf"`(bazel {verb} //workflows:credit_train[^`]*)`", RECIPE).group(1)
                                     for verb in ("run", "test"))
        trained = typed(run_command.replace("credit", "churn"), clone, env)
        assert "[railyard] complete: model sha256." in trained.stdout + trained.stderr
        tested = typed(test_command.replace("credit", "churn"), clone, env)
        assert "//workflows:churn_train_test" in tested.stdout + tested.stderr and "PASSED" in tested.stdout + tested.stderr
        after = fetched_wheels(clone, env)  # `bazel test` adds the coverage tools' stand-in; nothing is fetched again
        assert {name: after.get(name) for name in wheels} == wheels
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        subprocess.run(["bazel", "shutdown"], cwd=clone, env=env, capture_output=True, timeout=120)
