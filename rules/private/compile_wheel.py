"""Build action of `railyard_wheel`: compile a wheel's modules into an archive of bytecode.

    python compile_wheel.py WHEEL OUT_ZIP

One stored entry (launcher.py maps them in place) per module the boot unpacks (test suites
left out, as boot.py's `needed`), named by its path under site-packages (`.data/purelib|platlib/`
stripped) and holding an unchecked hash-based pyc, so it does not depend on file times. The archive's comment is the
interpreter's bytecode magic number, which launcher.py checks before using it. Entries are
sorted, compiled in one fresh process in that order and dated 1980, so the same wheel always
gives the same bytes.
"""

import importlib.util
import marshal
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boot import needed  # noqa: E402

FLAGS_UNCHECKED_HASH = (0b01).to_bytes(4, "little")
EPOCH = (1980, 1, 1, 0, 0, 0)


def site_path(name: str) -> str:
    parts = name.split("/")
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
        return "/".join(parts[2:])
    return name


def pyc(source: bytes, name: str) -> bytes | None:
    """An unchecked hash-based pyc of `source`, or None when it does not compile (a template, say)."""
    try:
        code = compile(source, name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return importlib.util.MAGIC_NUMBER + FLAGS_UNCHECKED_HASH + importlib.util.source_hash(source) + marshal.dumps(code)


def main() -> None:
    wheel, out = sys.argv[1], sys.argv[2]
    with zipfile.ZipFile(wheel) as archive, zipfile.ZipFile(out, "w") as output:
        output.comment = importlib.util.MAGIC_NUMBER
        names = sorted(n for n in archive.namelist() if n.endswith(".py") and needed(n))
        for name in names:
            data = pyc(archive.read(name), site_path(name))
            if data is not None:
                output.writestr(zipfile.ZipInfo(site_path(name), EPOCH), data)


if __name__ == "__main__":
    main()
