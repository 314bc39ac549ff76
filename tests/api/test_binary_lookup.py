"""A submit that names a published binary by hash reads its record once per process: what it finds is the same as the
store says, in its own database only, and a name that does not match the hash is still refused."""

from sqlalchemy import event

from railyard.api.store import binaries
from railyard.api.store.db import make_engine, migrate, session_factory
from railyard.binaries.inspect import BuildInfo
from railyard.binaries.reference import parse

SHA = "ab" * 32


def published_store(path):
    engine = make_engine(str(path))
    migrate(engine)
    return engine, session_factory(engine)


def count_selects(engine) -> list[str]:
    seen = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]) if args[2].startswith("SELECT") else None)
    return seen


def test_a_binary_named_by_hash_is_read_once_in_its_own_database_only(tmp_path):
    engine, sessions = published_store(tmp_path / "one.db")
    other_engine, other_sessions = published_store(tmp_path / "two.db")
    with sessions() as session:
        info = BuildInfo(name="fraud_train", target="//workflows:fraud_train", git_commit="c" * 40, git_dirty=False,
                         requirements=[])
        binaries.record(session, sha256=SHA, info=info, size_bytes=1, publisher="ci")
        session.commit()
    selects = count_selects(engine)

    for _ in range(3):
        with sessions() as session:
            found = binaries.find(session, reference=parse(f"fraud_train@sha256:{SHA}"))
            assert (found.name, found.sha256, found.git_commit) == ("fraud_train", SHA, "c" * 40)
    assert len(selects) == 1

    with sessions() as session:
        assert binaries.find(session, reference=parse(f"other@sha256:{SHA}")) is None
        assert binaries.find(session, reference=parse(f"sha256:{SHA}")).name == "fraud_train"
    with other_sessions() as session:
        assert binaries.find(session, reference=parse(f"sha256:{SHA}")) is None  # published in the other database only
    engine.dispose()
    other_engine.dispose()
