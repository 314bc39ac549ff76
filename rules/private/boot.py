"""The `__main__.py` of every railyard binary: start the pex from a virtualenv unpacked once.

pex's own first run installs each wheel through its installer (extract, then spread file by
file), which makes a cold trainer start several times slower than a plain virtualenv. This
boot unpacks the same wheels itself (read in place from the pex, without their test suites
and type stubs), in parallel, once per wheel hash under
`$PEX_ROOT/railyard/wheels/`, links them into a virtualenv per binary and interpreter under
`$PEX_ROOT/railyard/venvs/<pex_hash>/` and executes the entry point (or `PEX_MODULE`) there,
with `PEX` naming the binary as pex does, through launcher.py, which imports the modules
compiled at build time. Every directory is built under a temporary name and
renamed into place, so a killed first run leaves nothing that looks complete, and two first
runs at once both succeed.

Any other `PEX_*` setting, a PEX_ROOT that cannot be written, an interpreter the wheels were not
built for, or running unzipped hands the run to pex's own bootstrap, kept in the binary as `__pex_main__.py`.
"""

import hashlib
import json
import multiprocessing
import os
import shutil
import struct
import sys
import tempfile
import venv
import zipfile
from concurrent.futures import ProcessPoolExecutor

HANDLED = {"PEX_ROOT", "PEX_MODULE"}
PEX_MAIN = "__pex_main__.py"
RAILYARD = ".railyard/"  # the launcher and the compiled modules (see launcher.py)


def pex_main(pex: str) -> None:
    """Run pex's own bootstrap, as if it were this file (pex re-runs an unzipped copy of the pex)."""
    if os.path.isdir(pex):
        with open(os.path.join(pex, PEX_MAIN), "rb") as f:
            source = f.read()
    else:
        with zipfile.ZipFile(pex) as archive:
            source = archive.read(PEX_MAIN)
    main = os.path.join(pex, "__main__.py")
    exec(compile(source, main, "exec"), {"__name__": "__main__", "__file__": main, "__loader__": __loader__})


def pex_root() -> str:
    configured = os.environ.get("PEX_ROOT") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "pex")
    return os.path.realpath(os.path.expanduser(configured))


def writable(directory: str) -> bool:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def publish(build, final: str) -> None:
    """Build `final` with build(tmp) in a sibling temporary directory, then rename it into place."""
    if os.path.isdir(final):
        return
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(final) + "-", dir=parent)
    try:
        build(tmp)
        os.rename(tmp, final)
    except OSError:
        if not os.path.isdir(final):
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def extract(archive: zipfile.ZipFile, dest: str, members) -> None:
    """Extract with the permission bits the archive records (zipfile's extractall drops them)."""
    for info in members:
        path = archive.extract(info, dest)
        mode = (info.external_attr >> 16) & 0o777
        if mode and not info.is_dir():
            os.chmod(path, mode | 0o400)


def needed(name: str) -> bool:
    """Everything but test suites and type stubs, which nothing imports when a model trains."""
    return "tests" not in name.split("/")[:-1] and not name.endswith(".pyi")


class StoredMember:
    """A stored (uncompressed) zip member, read in place as a seekable file."""

    def __init__(self, path: str, info: zipfile.ZipInfo):
        self.file = open(path, "rb")
        self.file.seek(info.header_offset)
        name_length, extra_length = struct.unpack("<HH", self.file.read(30)[26:30])
        self.start, self.size, self.position = info.header_offset + 30 + name_length + extra_length, info.file_size, 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = max(0, offset + (0, self.position, self.size)[whence])
        return self.position

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n is None or n < 0 else min(n, self.size - self.position)
        self.file.seek(self.start + self.position)
        data = self.file.read(max(0, n))
        self.position += len(data)
        return data

    def close(self) -> None:
        self.file.close()


def unpack_wheel(pex: str, name: str, dest: str) -> None:
    """Unpack .deps/<name> the way an installer lays out a wheel: `.data/purelib|platlib` at the root."""

    def build(tmp: str) -> None:
        with zipfile.ZipFile(pex) as outer:
            info = outer.getinfo(".deps/" + name)
            if info.compress_type != zipfile.ZIP_STORED:
                raise OSError(f"{name} is compressed inside the pex")
        wheel = StoredMember(pex, info)
        try:
            with zipfile.ZipFile(wheel) as archive:
                extract(archive, tmp, [i for i in archive.infolist() if needed(i.filename)])
        finally:
            wheel.close()
        for data in [d for d in os.listdir(tmp) if d.endswith(".data")]:
            for scheme in ("purelib", "platlib"):
                root = os.path.join(tmp, data, scheme)
                if os.path.isdir(root):
                    merge(root, tmp)
            shutil.rmtree(os.path.join(tmp, data))

    publish(build, dest)


def merge(src: str, dest: str) -> None:
    for entry in os.listdir(src):
        target = os.path.join(dest, entry)
        if os.path.isdir(target) and os.path.isdir(os.path.join(src, entry)):
            merge(os.path.join(src, entry), target)
        else:
            os.replace(os.path.join(src, entry), target)


def link_tree(src: str, dest: str) -> None:
    """Symlink src's entries into dest; a directory two wheels share (a namespace package) becomes real."""
    for entry in os.listdir(src):
        source, target = os.path.join(src, entry), os.path.join(dest, entry)
        if not os.path.lexists(target):
            os.symlink(source, target)
        elif os.path.isdir(source) and os.path.isdir(target):
            if os.path.islink(target):
                first = os.readlink(target)
                os.unlink(target)
                os.mkdir(target)
                link_tree(first, target)
            link_tree(source, target)


def site_packages(root: str) -> str:
    return os.path.join(root, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")


def build_venv(pex: str, info: dict, wheels: dict, tmp: str) -> None:
    venv.EnvBuilder(symlinks=True, with_pip=False).create(tmp)
    site = site_packages(tmp)
    for directory in wheels.values():
        link_tree(directory, site)
    with zipfile.ZipFile(pex) as archive:
        user_code = [
            i for i in archive.infolist()
            if not i.filename.startswith((".deps/", ".bootstrap/", "__pex__/", RAILYARD))
            and i.filename not in ("__main__.py", PEX_MAIN, "PEX-INFO")
        ]
        extract(archive, site, user_code)
        for name, dest in (("launcher.py", "railyard_launcher.py"), ("bytecode.zip", "bytecode.zip")):
            with archive.open(RAILYARD + name) as src, open(os.path.join(tmp, dest), "wb") as out:
                shutil.copyfileobj(src, out)


def built_for_this_python(info: dict) -> bool:
    """Whether no wheel is built for another CPython's ABI (`cp311` wheels under Python 3.12 fail to import)."""
    abi = "cp%d%d" % sys.version_info[:2]
    for name in info["distributions"]:
        abis = name[:-len(".whl")].split("-")[-2].split(".")
        if all(a.startswith("cp") for a in abis) and abi not in abis:
            return False
    return True


def ensure_venv(pex: str, info: dict, root: str) -> str:
    """The binary's virtualenv for this interpreter; wheels removed from under an existing one are unpacked again."""
    interpreter = hashlib.sha256((os.path.realpath(sys.executable) + sys.version).encode()).hexdigest()[:16]
    venv_dir = os.path.join(root, "railyard", "venvs", info["pex_hash"], interpreter)
    wheels = {
        name: os.path.join(root, "railyard", "wheels", fingerprint, name)
        for name, fingerprint in sorted(info["distributions"].items())
    }
    missing = [name for name, directory in wheels.items() if not os.path.isdir(directory)]
    if not missing and os.path.isdir(venv_dir):
        return venv_dir
    with zipfile.ZipFile(pex) as archive:
        missing.sort(key=lambda name: -archive.getinfo(".deps/" + name).file_size)
    workers = max(1, min(8, len(os.sched_getaffinity(0)), len(missing)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        list(pool.map(unpack_wheel, [pex] * len(missing), missing, [wheels[name] for name in missing]))
    publish(lambda tmp: build_venv(pex, info, wheels, tmp), venv_dir)
    return venv_dir


def main() -> None:
    pex = os.path.dirname(os.path.abspath(__file__))
    root = pex_root()
    delegate = os.path.isdir(pex) or any(key.startswith("PEX_") and key not in HANDLED for key in os.environ)
    if delegate or not writable(root):
        pex_main(pex)
        return
    with zipfile.ZipFile(pex) as archive:
        info = json.loads(archive.read("PEX-INFO"))
        if not info.get("deps_are_wheel_files") or not built_for_this_python(info):
            pex_main(pex)
            return
    try:
        venv_dir = ensure_venv(pex, info, root)
    except OSError as exc:
        sys.exit(f"{os.path.basename(pex)}: cannot unpack into PEX_ROOT {root}: {exc}")
    env = dict(os.environ, PEX=pex)
    target = env.pop("PEX_MODULE", None) or info["entry_point"]
    python = os.path.join(venv_dir, "bin", "python")
    launcher = os.path.join(venv_dir, "railyard_launcher.py")
    os.execve(python, [python, "-sE", launcher, target] + sys.argv[1:], env)


if __name__ == "__main__":
    main()
