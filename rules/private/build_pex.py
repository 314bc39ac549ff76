"""Build action of `railyard_pex`: stage the sources, embed the build info, run pex offline.

Then railyard's boot (boot.py) becomes the pex's `__main__.py`, pex's own bootstrap
staying beside it as `__pex_main__.py` (see boot.py for why), and `.railyard/` gets the
virtualenv's entry script (launcher.py) and `bytecode.zip`: the wheels' compiled modules
(compile_wheel.py's archives, merged) and the sources', which the launcher imports from.

Build info (`railyard/_build_info.json` inside the pex): the git commit and
dirty flag from the stamped workspace status (or `unknown` when unstamped),
the Bazel target, and the sorted locked requirements. Nothing time- or
path-dependent goes in, so the same commit always gives the same bytes.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from compile_wheel import EPOCH, pyc

UNKNOWN = "unknown"
PEX_MAIN = "__pex_main__.py"
LAUNCHER, BYTECODE = ".railyard/launcher.py", ".railyard/bytecode.zip"


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


def bytecode_archive(archives: list[str], sources: Path) -> bytes:
    """One archive of every wheel's compiled modules and of the staged sources', sorted by path."""
    entries = {}
    for path in archives:
        with zipfile.ZipFile(path) as archive:
            if archive.comment != importlib.util.MAGIC_NUMBER:
                sys.exit(f"{path} holds another Python's bytecode")
            entries.update((info.filename, archive.read(info)) for info in archive.infolist())
    for source in sorted(sources.rglob("*.py")):
        name = source.relative_to(sources).as_posix()
        compiled = pyc(source.read_bytes(), name)
        if compiled is not None:
            entries[name] = compiled
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.comment = importlib.util.MAGIC_NUMBER
        for name in sorted(entries):
            out.writestr(zipfile.ZipInfo(name, EPOCH), entries[name])
    return buffer.getvalue()


def install_boot(pex: Path, boot: Path, launcher: Path, bytecode: bytes) -> None:
    """Rewrite the pex with boot.py as its `__main__.py`, pex's own as `__pex_main__.py`, and `.railyard/`."""
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
            dst.writestr(zipfile.ZipInfo(LAUNCHER, EPOCH), launcher.read_bytes())
            dst.writestr(zipfile.ZipInfo(BYTECODE, EPOCH), bytecode)
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
    parser.add_argument("--launcher", required=True, help="the virtualenv's entry script")
    parser.add_argument("--bytecode", action="append", default=[], help="a wheel's compiled modules")
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
        bytecode = bytecode_archive(sorted(args.bytecode), staging)
    install_boot(Path(args.output), Path(args.boot), Path(args.launcher), bytecode)


if __name__ == "__main__":
    main()
