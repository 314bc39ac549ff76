"""The entry script of a railyard binary's virtualenv (see boot.py): run the entry point with shipped bytecode.

    python -sE railyard_launcher.py MODULE[:FUNCTION] ARGS...

The binary ships its wheels' modules compiled (`bytecode.zip` beside this file, one stored entry
per source path under site-packages, as hash-based pycs). An import from site-packages takes
its code from there, read through a memory map, instead of compiling the source or reading a
`.pyc` file, so a first run does not spend its time compiling a thousand modules; a module the
archive lacks, or an archive made by another Python, is compiled from source as usual.
"""

import _imp
import importlib.machinery as machinery
import importlib.util
import marshal
import mmap
import os
import runpy
import struct
import sys
import sysconfig
import zipfile

BYTECODE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bytecode.zip")


class ShippedBytecodeLoader(machinery.SourceFileLoader):
    """A source loader that takes a module's code from the shipped archive when it has it."""

    spans: dict = {}  # path under site-packages -> (start, end) of its pyc in `data`
    data = memoryview(b"")
    site = ""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        span = self.spans.get(path[len(self.site):]) if path.startswith(self.site) else None
        if span is None:
            return super().get_code(fullname)
        try:
            code = marshal.loads(self.data[span[0] + 16:span[1]])
        except (ValueError, EOFError, TypeError):  # a damaged archive: compile this module from its source
            return super().get_code(fullname)
        _imp._fix_co_filename(code, path)
        return code


def stored_spans(archive: zipfile.ZipFile, data) -> dict:
    """Where each stored member's bytes lie in the archive's file."""
    spans = {}
    for info in archive.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise zipfile.BadZipFile(f"{info.filename} is compressed")
        name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
        start = info.header_offset + 30 + name_length + extra_length
        spans[info.filename] = (start, start + info.file_size)
    return spans


def install(archive_path: str, site: str) -> bool:
    """Serve site-packages imports from `archive_path`; False (nothing changed) when it is missing or foreign."""
    try:
        with open(archive_path, "rb") as f, zipfile.ZipFile(f) as archive:
            if archive.comment != importlib.util.MAGIC_NUMBER:
                return False
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            spans = stored_spans(archive, data)
    except (OSError, ValueError, struct.error, zipfile.BadZipFile):
        return False
    loader = ShippedBytecodeLoader
    loader.spans, loader.data, loader.site = spans, memoryview(data), site + os.sep
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
