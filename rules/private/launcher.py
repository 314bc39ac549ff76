"""The entry script of a railyard binary's virtualenv (see boot.py): run the entry point with shipped bytecode.

    python -sE railyard_launcher.py MODULE[:FUNCTION] ARGS...

The binary ships its wheels' modules compiled (`bytecode.zip` beside this file, one entry per
source path under site-packages, as hash-based pycs). An import from site-packages takes its
code from there instead of compiling the source, so a first run does not spend its time
compiling a thousand modules; a module the archive lacks, or an archive made by another
Python, is compiled from source as usual.
"""

import _imp
import importlib.machinery as machinery
import importlib.util
import marshal
import os
import runpy
import sys
import sysconfig
import zipfile

BYTECODE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bytecode.zip")


class ShippedBytecodeLoader(machinery.SourceFileLoader):
    """A source loader that takes a module's code from the shipped archive when it has it."""

    archive = None
    site = ""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        if path.startswith(self.site):
            try:
                data = self.archive.read(path[len(self.site):])
            except KeyError:
                data = None
            if data is not None and data[:4] == importlib.util.MAGIC_NUMBER:
                code = marshal.loads(memoryview(data)[16:])
                _imp._fix_co_filename(code, path)
                return code
        return super().get_code(fullname)


def install(archive_path: str, site: str) -> bool:
    """Serve site-packages imports from `archive_path`; False (nothing changed) when it is missing or foreign."""
    try:
        archive = zipfile.ZipFile(archive_path)
    except OSError:
        return False
    if archive.comment != importlib.util.MAGIC_NUMBER:
        archive.close()
        return False
    ShippedBytecodeLoader.archive, ShippedBytecodeLoader.site = archive, site + os.sep
    shipped = machinery.FileFinder.path_hook(
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
        (ShippedBytecodeLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    )

    def hook(path):
        if path == site or path.startswith(site + os.sep):
            return shipped(path)
        raise ImportError("not under site-packages")

    sys.path_hooks.insert(0, hook)
    for path in [p for p in sys.path_importer_cache if p == site or p.startswith(site + os.sep)]:
        del sys.path_importer_cache[path]
    return True


def main() -> None:
    install(BYTECODE, sysconfig.get_paths()["purelib"])
    module, _, function = sys.argv.pop(1).partition(":")
    sys.argv[0] = os.environ["PEX"]
    if function:
        sys.exit(getattr(__import__(module, fromlist=[function]), function)())
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
