"""Shipped bytecode: a wheel's modules compiled once at build time, the same bytes every time, and
imported by a binary's launcher instead of compiling the sources, with tracebacks naming the sources."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

RULES = REPO / "rules" / "private"


def wheel(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def compile_wheel(whl: Path, out: Path) -> zipfile.ZipFile:
    subprocess.run([sys.executable, str(RULES / "compile_wheel.py"), str(whl), str(out)], check=True)
    return zipfile.ZipFile(out)


def test_a_wheel_compiles_to_its_site_packages_paths_without_tests_or_broken_files(tmp_path):
    whl = wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {
        "pkg/__init__.py": "VALUE = 1\n",
        "pkg/tests/test_pkg.py": "def test(): pass\n",
        "pkg/template.py": "def broken(:\n",
        "pkg/README.txt": "not python\n",
        "pkg-1.0.data/purelib/extra/mod.py": "X = 2\n",
    })
    archive = compile_wheel(whl, tmp_path / "out.zip")
    assert sorted(archive.namelist()) == ["extra/mod.py", "pkg/__init__.py"]
    assert archive.comment == importlib.util.MAGIC_NUMBER
    assert archive.read("pkg/__init__.py")[:4] == importlib.util.MAGIC_NUMBER


def test_the_same_wheel_always_gives_the_same_bytes(tmp_path):
    source = textwrap.dedent("""\
        import os
        NAMES = ("a", "b", "a")
        def f(x, *, y=1.5):
            return {"k": x, "v": [y, NAMES]}
        class C:
            attr = frozenset({1, 2, 3})
    """)
    whl = wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {f"pkg/m{i}.py": source for i in range(20)})
    compile_wheel(whl, tmp_path / "a.zip").close()
    compile_wheel(whl, tmp_path / "b.zip").close()
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def run_launcher(tmp_path: Path, archive_entries: dict[str, str], magic: bytes | None = None,
                 damage=None) -> subprocess.CompletedProcess:
    """Import `pkg` from a site directory whose `pkg/__init__.py` says "source", the launcher's way."""
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text('WHERE = "source"\n')
    (site / "pkg" / "fails.py").write_text('def boom():\n    raise RuntimeError("boom")\n')
    whl = wheel(tmp_path / "shipped-1.0-py3-none-any.whl", archive_entries)
    compile_wheel(whl, tmp_path / "bytecode.zip").close()
    if magic is not None:
        with zipfile.ZipFile(tmp_path / "bytecode.zip", "a") as archive:
            archive.comment = magic
    if damage is not None:
        archive = tmp_path / "bytecode.zip"
        archive.write_bytes(damage(archive.read_bytes()))
    program = textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(RULES)!r})
        import launcher
        print("installed", launcher.install({str(tmp_path / "bytecode.zip")!r}, {str(site)!r}))
        sys.path.insert(0, {str(site)!r})
        import pkg
        print("where", pkg.WHERE)
        import pkg.fails
        pkg.fails.boom()
    """)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path)


def test_site_packages_modules_come_from_the_shipped_bytecode_and_tracebacks_name_the_source(tmp_path):
    run = run_launcher(tmp_path, {
        "pkg/__init__.py": 'WHERE = "shipped"\n',
        "pkg/fails.py": 'def boom():\n    raise RuntimeError("boom")\n',
    })
    assert "installed True" in run.stdout and "where shipped" in run.stdout
    assert f'File "{tmp_path / "site" / "pkg" / "fails.py"}", line 2, in boom' in run.stderr
    assert not list((tmp_path / "site").rglob("__pycache__/__init__*.pyc")), "a shipped module was compiled again"


def test_a_module_the_archive_lacks_is_compiled_from_its_source(tmp_path):
    run = run_launcher(tmp_path, {"other/__init__.py": "X = 1\n"})
    assert "installed True" in run.stdout and "where source" in run.stdout


def test_another_pythons_archive_is_ignored(tmp_path):
    run = run_launcher(tmp_path, {"pkg/__init__.py": 'WHERE = "shipped"\n'}, magic=b"\x00\x00\r\n")
    assert "installed False" in run.stdout and "where source" in run.stdout


def overwrite_code(data: bytes) -> bytes:
    """The archive with its first module's code (after the 16-byte pyc header) overwritten."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 16
    return data[:start] + b"\xff" * (info.file_size - 16) + data[start + info.file_size - 16:]


@pytest.mark.parametrize("damage, installed", [
    (lambda data: data[:len(data) // 2], False),  # cut short: no central directory
    (lambda data: b"", False),
    (overwrite_code, True),  # the directory is intact, a module's code is not
])
def test_a_damaged_archive_falls_back_to_compiling_the_sources(tmp_path, damage, installed):
    run = run_launcher(tmp_path, {"pkg/__init__.py": 'WHERE = "shipped"\n'}, damage=damage)
    assert f"installed {installed}" in run.stdout and "where source" in run.stdout, run.stderr
