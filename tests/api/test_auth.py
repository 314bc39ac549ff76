"""The tokens file, `railyard token new`, and data prefixes: what operators write and what each principal may reach."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from railyard.api.auth import TokenTable, token_hash
from railyard.api.data_access import DataAccessDenied, check_data_access, normalize_prefix
from railyard.errors import UserError
from railyard.spec import TrainingSpec
from tests.conftest import REPO, example_spec


def table(tmp_path, text: str) -> TokenTable:
    path = tmp_path / "tokens.yaml"
    path.write_text(text)
    return TokenTable.load(path)


def test_plain_and_hashed_tokens_name_their_principal(tmp_path):
    tokens = table(tmp_path, f"plain-token-0123456789: {{owner: a, teams: [t], publish: true}}\n"
                             f"{token_hash('hashed-token-0123456789')}: {{owner: b, admin: true, data_prefixes: [/data/b]}}\n")
    a, b = tokens.principal("plain-token-0123456789"), tokens.principal("hashed-token-0123456789")
    assert (a.owner, a.teams, a.publish, a.admin) == ("a", ("t",), True, False)
    assert (b.owner, b.admin, b.data_prefixes) == ("b", True, ("/data/b/",))
    assert tokens.principal(token_hash("hashed-token-0123456789")) is None  # the hash itself is not a token
    assert tokens.principal("plain-token-012345678") is None


@pytest.mark.parametrize("text, message", [
    ("short: {owner: a}", "at least 16 characters"),
    ("sha256:abc: {owner: a}", "sha256:<64 lowercase hex digits>"),
    ("plain-token-0123456789: {teams: [x]}", "entry 1 needs an owner"),
    ("plain-token-0123456789: {owner: a, teams: x}", "teams must be a list of strings"),
    ("plain-token-0123456789: {owner: a, admin: 'yes'}", "admin must be true or false"),
    ("plain-token-0123456789: {owner: a, data_prefix: [/x]}", "unknown keys data_prefix"),
    ("plain-token-0123456789: {owner: a, data_prefixes: [relative/dir]}", "must be an absolute path or a URI"),
    ("[]", "expected a mapping"),
])
def test_a_bad_tokens_file_is_one_clear_line(tmp_path, text, message):
    with pytest.raises(UserError, match=message) as caught:
        table(tmp_path, text)
    assert "\n" not in str(caught.value) and "tokens.yaml" in str(caught.value)


def test_token_new_prints_a_token_and_an_entry_that_loads(tmp_path):
    run = subprocess.run([sys.executable, "-m", "railyard.cli", "token", "new", "--owner", "alice", "--team", "fraud",
                          "--data-prefix", "/data/fraud", "--data-prefix", "s3://ml-data/fraud", "--json"],
                         cwd=REPO, capture_output=True, text=True, env=os.environ, check=True)
    made = json.loads(run.stdout)
    [(key, entry)] = made["entry"].items()
    assert key == token_hash(made["token"]) and made["token"] not in json.dumps(made["entry"])
    assert entry == {"owner": "alice", "teams": ["fraud"], "data_prefixes": ["/data/fraud/", "s3://ml-data/fraud/"]}
    text = subprocess.run([sys.executable, "-m", "railyard.cli", "token", "new", "--owner", "ci", "--publish"],
                          cwd=REPO, capture_output=True, text=True, env=os.environ, check=True).stdout
    token = text.split("shown only now): ", 1)[1].split()[0]
    entry_line = text.rstrip().splitlines()[-1]
    (tmp_path / "tokens.yaml").write_text(entry_line + "\n")
    assert yaml.safe_load(entry_line)
    principal = TokenTable.load(tmp_path / "tokens.yaml").principal(token)
    assert principal.owner == "ci" and principal.publish


def spec_reading(*paths: str) -> TrainingSpec:
    raw = example_spec("fraud", paths[0])
    raw["data"]["features"] = [dict(raw["data"]["features"][0], path=p) for p in paths]
    if len(paths) > 1:
        raw["data"]["join_keys"] = ["created_at"]
    return TrainingSpec.model_validate(raw)


def test_data_prefixes_resolve_dots_symlinks_and_file_uris(tmp_path):
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    (tmp_path / "allowed-not").mkdir()
    (allowed / "escape").symlink_to(tmp_path / "allowed-not")
    prefixes = (normalize_prefix(str(allowed)), normalize_prefix("s3://ml-data/fraud"))
    for ok in (f"{allowed}/sub/x.parquet", f"file://{allowed}/x.parquet", f"{allowed}/sub/../y.parquet", "s3://ml-data/fraud/2026/x.parquet"):
        check_data_access(spec_reading(ok), prefixes)
    for bad in (f"{allowed}/../allowed-not/x.parquet", f"{tmp_path}/allowed-not/x.parquet", f"{allowed}/escape/x.parquet",
                f"file://{allowed}/../x.parquet", "s3://ml-data/fraud-other/x.parquet", "s3://ml-data/fraud/../secret/x.parquet",
                "s3://ml-data/x.parquet"):
        with pytest.raises(DataAccessDenied, match="data.features\\[0\\].path"):
            check_data_access(spec_reading(bad), prefixes)
    with pytest.raises(DataAccessDenied, match="data.features\\[1\\].path: .* outside your data prefixes"):
        check_data_access(spec_reading(f"{allowed}/a.parquet", f"{tmp_path}/b.parquet"), prefixes)
    with pytest.raises(DataAccessDenied, match="allowed: none"):
        check_data_access(spec_reading(f"{allowed}/a.parquet"), ())
    check_data_access(spec_reading("/anything/at/all.parquet"), None)


def test_a_scheme_only_counts_at_the_start_and_local_paths_must_be_absolute(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (tmp_path / "secret").mkdir()
    (allowed / "exports:").symlink_to(tmp_path / "secret")
    prefixes = (normalize_prefix(str(allowed)),)
    for sneaky in (f"{allowed}/exports://secret.parquet", f"{allowed}/exports:///secret.parquet"):
        with pytest.raises(DataAccessDenied, match="outside your data prefixes"):
            check_data_access(spec_reading(sneaky), prefixes)
    from railyard.api.data_access import BadDataPath

    for bad, message in (("allowed/x.parquet", "is relative"), ("../x.parquet", "is relative"),
                         ("ftp://host/x.parquet", "unknown scheme 'ftp'"), (f"{allowed}/\x00/x", "NUL character")):
        with pytest.raises(BadDataPath, match=message):
            check_data_access(spec_reading(bad), prefixes)


def test_a_token_removed_from_the_file_stops_working_without_a_restart(tmp_path, monkeypatch):
    from railyard.api import auth

    monkeypatch.setattr(auth, "RECHECK_SECONDS", 0.0)
    path = tmp_path / "tokens.yaml"
    path.write_text("carol-token-0123456789: {owner: carol}\nalice-token-0123456789: {owner: alice}\n")
    tokens = auth.TokenFile(path)
    assert tokens.principal("carol-token-0123456789").owner == "carol"
    path.write_text("alice-token-0123456789: {owner: alice}\n")
    assert tokens.principal("carol-token-0123456789") is None



def test_a_tokens_file_that_does_not_parse_fails_closed_and_says_so(tmp_path, monkeypatch, caplog):
    from railyard.api import auth

    monkeypatch.setattr(auth, "RECHECK_SECONDS", 0.0)
    path = tmp_path / "tokens.yaml"
    path.write_text("alice-token-0123456789: {owner: alice}\n")
    tokens = auth.TokenFile(path)
    path.write_text("this: [is not: a tokens file\n")
    assert tokens.principal("alice-token-0123456789") is None
    assert any(r.levelname == "ERROR" and "no token is valid" in r.getMessage() for r in caplog.records)
    path.unlink()  # a file that cannot be read at all
    assert tokens.principal("alice-token-0123456789") is None
    path.write_text("alice-token-0123456789: {owner: alice}\n")
    assert tokens.principal("alice-token-0123456789").owner == "alice"


def test_a_token_removed_while_the_file_was_broken_is_still_revoked(tmp_path, monkeypatch):
    from railyard.api import auth

    monkeypatch.setattr(auth, "RECHECK_SECONDS", 0.0)
    path = tmp_path / "tokens.yaml"
    path.write_text("carol-token-0123456789: {owner: carol}\nalice-token-0123456789: {owner: alice}\n")
    tokens = auth.TokenFile(path)
    revoked = []
    tokens._revoke = revoked.append
    path.write_text("not: [a tokens file\n")
    tokens.principal("x" * 20)
    path.write_text("alice-token-0123456789: {owner: alice}\n")
    tokens.principal("x" * 20)
    assert revoked == [{auth.token_hash("carol-token-0123456789")}]
