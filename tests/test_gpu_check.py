"""bench/gpu_check.sh on a machine without a visible GPU: exit 1 with one line saying so, before doing anything."""

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "gpu_check.sh"
MESSAGE = "gpu_check: no NVIDIA GPU visible (nvidia-smi is missing or fails); run it on a machine with one\n"


@pytest.mark.parametrize("nvidia_smi", [None, "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n"])
def test_without_a_gpu_it_exits_1_with_one_line(tmp_path, nvidia_smi):
    if nvidia_smi is not None:
        (tmp_path / "nvidia-smi").write_text(nvidia_smi)
        (tmp_path / "nvidia-smi").chmod(0o755)
    done = subprocess.run([shutil.which("bash"), str(SCRIPT)], env={"PATH": str(tmp_path)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", MESSAGE)
    assert list(tmp_path.iterdir()) == ([] if nvidia_smi is None else [tmp_path / "nvidia-smi"])
