"""The data prefixes enforced as each file is opened: links, swapped files and directories, hive partitions, S3 key forms.

Alice's prefix is `alice/`; `bob/` holds another team's file, whose column names and path must never show
through anything alice's process reads or reports.
"""

from __future__ import annotations

import json
import os
import time

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from railyard.errors import DataError, UserError
from railyard.pipeline.load import fingerprint, open_source, read_positioned, read_source
from railyard.spec import FeatureSource
from railyard.storage import arrow_filesystem
from railyard.storage.guard import LocalPrefixGuard, guarded
from railyard.storage.prefixes import ENVIRONMENT_VARIABLE, DataAccessDenied, normalize_prefix, prefixes_from_environ

OWN = pa.table({"amount": [1.0, 2.0, 3.0], "label": [0, 1, 0]})
SECRET = pa.table({"bobs_secret_column": ["BOB-ONLY-VALUE"]})


@pytest.fixture
def teams(tmp_path, monkeypatch):
    """(alice's prefix directory, bob's directory), with this process restricted to alice's prefix."""
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    (alice / "dir").mkdir(parents=True)
    (bob / "dir").mkdir(parents=True)
    pq.write_table(OWN, alice / "own.parquet")
    pq.write_table(OWN, alice / "dir" / "part-0.parquet")
    pq.write_table(SECRET, bob / "secret.parquet")
    pq.write_table(SECRET, bob / "dir" / "part-0.parquet")
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, json.dumps([normalize_prefix(str(alice))]))
    return alice, bob


def source(path) -> FeatureSource:
    return FeatureSource(names=["amount", "label"], path=str(path))


def refused(exc: pytest.ExceptionInfo, path, alice) -> None:
    message = str(exc.value)
    assert message == f"data.features[0].path: {path} is outside your data prefixes (allowed: {normalize_prefix(str(alice))})"
    assert "bob" not in message.replace(str(path), "") and "secret" not in message.lower().replace(str(path), "")


def test_own_files_read_as_before(teams):
    alice, _ = teams
    for path in (alice / "own.parquet", alice / "dir"):
        opened = open_source(0, source(path))
        assert read_source(opened, ["amount"], None).table.column("amount").to_pylist() == [1.0, 2.0, 3.0]
        assert type(opened.dataset.filesystem.handler) is LocalPrefixGuard
    with pytest.raises(DataError, match="does not exist"):
        open_source(0, source(alice / "missing.parquet"))


def test_a_link_out_is_refused_alike_whether_its_target_exists(teams):
    alice, bob = teams
    (alice / "to-secret.parquet").symlink_to(bob / "secret.parquet")
    (alice / "to-nothing.parquet").symlink_to(bob / "nothing.parquet")
    messages = []
    for link in (alice / "to-secret.parquet", alice / "to-nothing.parquet"):
        with pytest.raises(DataAccessDenied) as exc:
            open_source(0, source(link))
        refused(exc, link, alice)
        messages.append(str(exc.value).replace(link.name, "LINK"))
    assert messages[0] == messages[1]
    filesystem, path = arrow_filesystem(str(alice / "to-nothing.parquet"))
    with pytest.raises(DataAccessDenied):
        filesystem.get_file_info(path)  # refused before anything says whether it exists


def test_a_link_swapped_in_after_the_check_is_refused_at_open(teams):
    alice, bob = teams
    target = alice / "swapped.parquet"
    pq.write_table(OWN, target)
    opened = open_source(0, source(target))  # the check at submit, the schema probe: all alice's own
    target.unlink()
    target.symlink_to(bob / "secret.parquet")
    with pytest.raises(DataAccessDenied) as exc:
        read_source(opened, ["amount"], None)
    refused(exc, target, alice)


def test_a_file_missing_at_the_check_that_appears_as_a_link(teams):
    alice, bob = teams
    later = alice / "later.parquet"
    with pytest.raises(DataError, match="does not exist"):
        open_source(0, source(later))
    later.symlink_to(bob / "secret.parquet")
    with pytest.raises(DataAccessDenied) as exc:
        open_source(0, source(later))
    refused(exc, later, alice)


def test_a_directory_entry_that_links_out_refuses_the_listing(teams):
    alice, bob = teams
    (alice / "dir" / "part-1.parquet").symlink_to(bob / "secret.parquet")
    with pytest.raises(DataAccessDenied) as exc:
        open_source(0, source(alice / "dir"))
    refused(exc, alice / "dir" / "part-1.parquet", alice)


def test_a_directory_entry_swapped_after_listing_is_refused_at_read(teams):
    alice, bob = teams
    pq.write_table(OWN, alice / "dir" / "part-1.parquet")
    opened = open_source(0, source(alice / "dir"))
    assert len(opened.dataset.files) == 2
    (alice / "dir" / "part-1.parquet").unlink()
    (alice / "dir" / "part-1.parquet").symlink_to(bob / "secret.parquet")
    for read in (lambda: read_source(opened, ["amount"], None),
                 lambda: read_positioned(opened, ["amount"], None, [], 0, 1)):
        with pytest.raises(DataAccessDenied) as exc:
            read()
        refused(exc, alice / "dir" / "part-1.parquet", alice)


def test_a_hive_partition_folder_that_links_out_is_refused(teams):
    alice, bob = teams
    hive = alice / "hive"
    (hive / "country=US").mkdir(parents=True)
    pq.write_table(OWN, hive / "country=US" / "part-0.parquet")
    assert open_source(0, source(hive)).dataset.count_rows() == 3
    (hive / "country=ZZ").symlink_to(bob / "dir", target_is_directory=True)
    with pytest.raises(DataAccessDenied) as exc:
        open_source(0, source(hive))
    refused(exc, hive / "country=ZZ", alice)


def test_a_directory_on_the_path_replaced_by_a_link(teams):
    alice, bob = teams
    (alice / "nested").mkdir()
    pq.write_table(OWN, alice / "nested" / "part-0.parquet")
    path = alice / "nested" / "part-0.parquet"
    opened = open_source(0, source(path))
    (alice / "nested").rename(alice / "moved")
    (alice / "nested").symlink_to(bob / "dir", target_is_directory=True)  # bob's dir holds a part-0.parquet too
    with pytest.raises(DataAccessDenied) as exc:
        read_source(opened, ["amount"], None)
    refused(exc, path, alice)


class SwapAfterNameCheck(LocalPrefixGuard):
    """The real guard, with a link swapped in at the worst moment: after the path's name was checked, before the open."""

    def __init__(self, prefixes, where, swap):
        super().__init__(prefixes, where)
        self.swap = swap

    def _check_name(self, path: str) -> None:
        super()._check_name(path)
        self.swap()


def test_a_swap_between_the_name_check_and_the_open_is_caught_by_what_was_opened(teams):
    alice, bob = teams
    target = alice / "racy.parquet"

    def swap():
        if not target.is_symlink():
            target.unlink(missing_ok=True)
            target.symlink_to(bob / "secret.parquet")

    pq.write_table(OWN, target)
    filesystem = pafs.PyFileSystem(SwapAfterNameCheck((normalize_prefix(str(alice)),), "data.features[0].path", swap))
    with pytest.raises(DataAccessDenied) as exc:
        filesystem.open_input_file(str(target))
    refused(exc, target, alice)
    pq.write_table(OWN, target.with_name("racy-info.parquet"))
    target = target.with_name("racy-info.parquet")
    with pytest.raises(DataAccessDenied):
        filesystem.get_file_info(str(target))  # no size or time of bob's file either


def test_a_fifo_is_refused_without_blocking(teams):
    alice, _ = teams
    os.mkfifo(alice / "pipe.parquet")
    filesystem, path = arrow_filesystem(str(alice / "pipe.parquet"))
    started = time.monotonic()
    with pytest.raises(OSError, match="is not a regular file"):
        filesystem.open_input_file(path)
    with pytest.raises(DataError):
        open_source(0, source(alice / "pipe.parquet"))
    assert time.monotonic() - started < 10


def test_reads_only_never_writes(teams):
    alice, _ = teams
    filesystem, path = arrow_filesystem(str(alice / "new.parquet"))
    with pytest.raises(PermissionError, match="read-only"):
        filesystem.open_output_stream(path)
    with pytest.raises(PermissionError):
        filesystem.delete_file(str(alice / "own.parquet"))
    assert (alice / "own.parquet").exists()


def test_the_fingerprint_is_of_the_files_as_opened(teams):
    alice, _ = teams
    pq.write_table(OWN, alice / "dir" / "part-1.parquet")
    found = fingerprint([open_source(0, source(alice / "dir"))])
    files = found[0]["files"]
    assert found[0]["path"] == str(alice / "dir")
    assert [f["path"] for f in files] == [str(alice / "dir" / f"part-{i}.parquet") for i in (0, 1)]
    assert files[0]["size"] == (alice / "dir" / "part-0.parquet").stat().st_size and files[0]["mtime"]


def test_without_the_variable_nothing_is_restricted(teams, monkeypatch):
    _, bob = teams
    monkeypatch.delenv(ENVIRONMENT_VARIABLE)
    assert prefixes_from_environ() is None
    assert open_source(0, FeatureSource(names=["bobs_secret_column"], path=str(bob / "secret.parquet"))).dataset.count_rows() == 1


def test_no_prefixes_means_no_data(teams, monkeypatch):
    alice, _ = teams
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "[]")
    with pytest.raises(DataAccessDenied, match=r"outside your data prefixes \(allowed: none\)"):
        open_source(0, source(alice / "own.parquet"))


@pytest.mark.parametrize("value", ["", "not json", '"/data/"', '["relative/"]', '["/data"]', '["/data/../etc/"]',
                                   '["ftp://x/"]', '["s3://b/../c/"]', "[1]"])
def test_a_malformed_variable_fails_closed(teams, monkeypatch, value):
    alice, _ = teams
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, value)
    with pytest.raises(UserError, match=ENVIRONMENT_VARIABLE):
        open_source(0, source(alice / "own.parquet"))


def test_guarded_reads_are_as_fast_as_plain_ones(charges_path, monkeypatch):
    """20,000 rows read whole, guarded and not: the guard costs a few system calls per file, not per row."""
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    plain = FeatureSource(names=["charge_amount"], path=str(charges_path))

    def best_of(runs: int = 7) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            assert read_source(open_source(0, plain), ["charge_amount", "charge_country"], None).table.num_rows == 20_000
            times.append(time.perf_counter() - started)
        return min(times)

    unguarded = best_of()
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, json.dumps([normalize_prefix(str(charges_path.parent))]))
    assert type(open_source(0, plain).dataset.filesystem.handler) is LocalPrefixGuard
    assert best_of() < unguarded * 1.5 + 0.005


# S3, against a real S3-compatible server.

S3_PREFIX = "s3://ml-data/fraud/"


@pytest.fixture
def s3_data(aws, monkeypatch, tmp_path):
    pq.write_table(OWN, tmp_path / "own.parquet")
    pq.write_table(SECRET, tmp_path / "secret.parquet")
    aws.upload_file(str(tmp_path / "own.parquet"), "ml-data", "fraud/own.parquet")
    aws.upload_file(str(tmp_path / "own.parquet"), "ml-data", "fraud/dir/part-0.parquet")
    aws.upload_file(str(tmp_path / "secret.parquet"), "ml-data", "other/secret.parquet")
    aws.upload_file(str(tmp_path / "secret.parquet"), "ml-data", "fraudulent/secret.parquet")
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, json.dumps([S3_PREFIX]))
    return aws


def test_s3_keys_under_the_prefix_are_read(s3_data):
    for path in ("s3://ml-data/fraud/own.parquet", "s3://ml-data/fraud/dir", "s3://ml-data/fraud/dir/"):
        opened = open_source(0, source(path))
        assert read_source(opened, ["amount"], None).table.num_rows == 3


@pytest.mark.parametrize("path", [
    "s3://ml-data/other/secret.parquet",
    "s3://ml-data/fraudulent/secret.parquet",
    "s3://ml-data/fraud/../other/secret.parquet",
    "s3://ml-data/fraud/./../other/secret.parquet",
    "s3://ml-data/fraud//../other/secret.parquet",
    "s3://ml-data/fraud/%2e%2e/other/secret.parquet",
    "s3://ml-data/fraud/%2E%2E%2Fother%2Fsecret.parquet",
    "s3://ml-data/fraud\\..\\other\\secret.parquet",
    "s3://other-bucket/fraud/own.parquet",
    "s3://ml-data/fraud/missing/../../other/secret.parquet",
])
def test_s3_keys_outside_the_prefix_are_refused_in_every_form(s3_data, path):
    with pytest.raises(DataAccessDenied) as exc:
        open_source(0, source(path))
    assert str(exc.value) == f"data.features[0].path: {path} is outside your data prefixes (allowed: {S3_PREFIX})"


def test_every_listed_s3_key_is_checked(s3_data, tmp_path):
    s3_data.upload_file(str(tmp_path / "secret.parquet"), "ml-data", "fraud/dir/../../other/copy.parquet")
    listed = [o["Key"] for o in s3_data.list_objects_v2(Bucket="ml-data", Prefix="fraud/dir/")["Contents"]]
    assert "fraud/dir/../../other/copy.parquet" in listed  # a key S3 keeps as written, that a path would read elsewhere
    with pytest.raises(DataAccessDenied, match="outside your data prefixes"):
        open_source(0, source("s3://ml-data/fraud/dir"))


def test_the_guard_wraps_only_what_arrow_filesystem_gives(s3_data):
    filesystem, path = arrow_filesystem("s3://ml-data/fraud/own.parquet", where="data")
    assert path == "ml-data/fraud/own.parquet" and filesystem.type_name == "py::railyard-s3-guard"
    with pytest.raises(DataAccessDenied, match="^data: s3://ml-data/other/secret.parquet is outside"):
        filesystem.open_input_file("ml-data/other/secret.parquet")
    with pytest.raises(DataAccessDenied):
        guarded(pafs.LocalFileSystem(), (S3_PREFIX,), "data").get_file_info("/etc/passwd")  # an s3 prefix allows no local path


def test_a_dataset_nested_too_deep_is_refused_in_one_line_not_a_recursion_error(tmp_path):
    from railyard.storage.guard import MAX_DIRECTORY_DEPTH

    root = tmp_path / "data"
    deepest = root.joinpath(*["d"] * (MAX_DIRECTORY_DEPTH + 5))
    deepest.mkdir(parents=True)
    filesystem = guarded(pafs.LocalFileSystem(), (f"{tmp_path}/",), "data.features[0].path")
    with pytest.raises(OSError, match=f"nested more than {MAX_DIRECTORY_DEPTH} deep"):
        filesystem.get_file_info(pafs.FileSelector(str(root), recursive=True))
    shallow = filesystem.get_file_info(pafs.FileSelector(str(root.joinpath(*["d"] * 10)), recursive=True))
    assert len(shallow) == MAX_DIRECTORY_DEPTH + 5 - 10
