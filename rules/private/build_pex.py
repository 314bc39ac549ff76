"""Build action of `railyard_pex`: stage the sources, embed the build info, run pex offline.

Then railyard's boot (boot.py) becomes the pex's `__main__.py`, pex's own bootstrap
staying beside it as `__pex_main__.py` (see boot.py for why).

Build info (`railyard/_build_info.json` inside the pex): the git commit and
dirty flag from the stamped workspace status (or `unknown` when unstamped),
the Bazel target, and the sorted locked requirements. Nothing time- or
path-dependent goes in, so the same commit always gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

UNKNOWN = "unknown"
PEX_MAIN = "__pex_main__.py"


def stable_status(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    status = {}
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition(" ")
        status[key] = value.strip()
    return status


def build_info(args: argparse.Namespace) -> dict:
    status = stable_status(args.stable_status)
    commit = status.get("STABLE_GIT_COMMIT") or UNKNOWN
    dirty = status.get("STABLE_GIT_DIRTY")
    return {
        "git_commit": commit,
        "git_dirty": None if commit == UNKNOWN or dirty is None else dirty == "true",
        "target": args.target,
        "requirements": sorted(set(args.pin)),
        "source": "stamped" if args.stable_status else "unstamped",
    }


def install_boot(pex: Path, boot: Path) -> None:
    """Rewrite the pex with boot.py as its `__main__.py` and pex's own as `__pex_main__.py`."""
    staged = pex.with_name(pex.name + ".boot")
    with open(pex, "rb") as f:
        shebang = f.readline()
    with zipfile.ZipFile(pex) as src, open(staged, "wb") as out:
        out.write(shebang)
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "__main__.py":
                    dst.writestr(_renamed(info, PEX_MAIN), data)
                    data = boot.read_bytes()
                dst.writestr(info, data)
    staged.chmod(0o755)
    staged.replace(pex)


def _renamed(info: zipfile.ZipInfo, name: str) -> zipfile.ZipInfo:
    renamed = zipfile.ZipInfo(name, info.date_time)
    renamed.external_attr, renamed.compress_type = info.external_attr, info.compress_type
    return renamed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", required=True)
    parser.add_argument("--pex-tool", required=True)
    parser.add_argument("--entry-point", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--src", action="append", default=[], help="DEST=PATH")
    parser.add_argument("--wheel", action="append", default=[])
    parser.add_argument("--requirement", action="append", default=[])
    parser.add_argument("--pin", action="append", default=[])
    parser.add_argument("--stable-status")
    parser.add_argument("--boot", required=True, help="railyard's __main__.py for the pex")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="railyard-pex-") as tmp:
        staging = Path(tmp) / "src"
        for mapping in args.src:
            dest, _, path = mapping.partition("=")
            target = staging / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        (staging / "railyard" / "_build_info.json").write_text(json.dumps(build_info(args), indent=2, sort_keys=True) + "\n")
        env = {**os.environ, "PEX_ROOT": str(Path(tmp) / "pex_root"), "HOME": str(Path(tmp) / "home")}
        command = [args.pex_tool]
        for wheel in sorted(args.wheel):
            command += ["--pre-resolved-dist", wheel]
        command += sorted(set(args.requirement))
        command += [
            "--sources-directory", str(staging),
            "--entry-point", args.entry_point,
            "--venv",
            "--no-pre-install-wheels",  # wheels go in as they are: fast builds, small files
            "--no-compress",            # the wheels are compressed already
            "--python-shebang", "/usr/bin/env python3.11",
            "--no-emit-warnings",
            "--output-file", args.output,
        ]
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"pex failed for {args.target}:\n{run.stderr}")
    install_boot(Path(args.output), Path(args.boot))


if __name__ == "__main__":
    main()
