"""docs/workflows.md's "Adding a workflow", as written: the target its recipe shows is the one in
workflows/BUILD.bazel whose smoke test `bazel test //...` runs, on the sample saved beside the spec; and
a spec over other columns without a sample fails its smoke test saying how to give it one."""

import json
import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO

RECIPE = (REPO / "docs" / "workflows.md").read_text().split("## Adding a workflow", 1)[1].split("\n## ", 1)[0]


def test_the_recipe_target_is_the_one_built_and_smoke_tested():
    [shown] = re.findall(r"```python\n *(railyard_trainer\(.*?\n *\))\n *```", RECIPE, flags=re.S)
    build = (REPO / "workflows" / "BUILD.bazel").read_text()
    assert "\n".join(line.strip() for line in shown.splitlines()) in "\n".join(line.strip() for line in build.splitlines())
    name = re.search(r'name = "(\w+)"', shown).group(1)
    spec = REPO / "workflows" / re.search(r'smoke_spec = "([^"]+)"', shown).group(1)
    assert (spec.parent / "smoke.parquet").is_file()  # the recipe's sample, beside the spec
    assert f"bazel test //workflows:{name}_test" in RECIPE


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bazel") is None, reason="Bazel is not installed (make test installs it)")
def test_the_smoke_test_trains_on_the_sample_beside_the_spec_and_says_so_when_there_is_none(tmp_path):
    """The credit workflow's smoke test passes on credit/smoke.parquet; without it (the sample charges, which lack
    its columns) it fails with the recipe's way out."""
    tested = subprocess.run(["bazel", "test", "//workflows:credit_train_test"], cwd=REPO, capture_output=True, text=True,
                            timeout=1200)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    driver = REPO / "rules" / "private" / "smoke_test.py"
    trainer = REPO / "bazel-bin" / "workflows" / "credit_train.pex"
    spec = json.loads((REPO / "workflows" / "credit" / "spec.json").read_text())
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    without = subprocess.run(["python3.11", str(driver), "--trainer", str(trainer), "--spec", str(tmp_path / "spec.json"),
                              "--target", "//workflows:credit_train", "--data-module", "workflows.data.charges",
                              "--data-args", "--rows 2000", "--metric", "roc_auc", "--at-least", "0.6"],
                             capture_output=True, text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "TEST_TMPDIR": str(tmp_path)})
    assert without.returncode == 1
    assert "column 'student' not found" in without.stderr
    assert without.stderr.strip().splitlines()[-1].startswith(
        "FAIL: trainer exited 2 on workflows.data.charges's sample data (above); a workflow over columns of its own")
