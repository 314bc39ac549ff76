"""The SQLite replica lock beside the database is the service's user's alone: no other local user can open it and
take the lock, which would keep the service from starting."""

from __future__ import annotations

import os
import stat

from railyard.api.store.db import hold_single_replica, make_engine


def test_the_replica_lock_is_created_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        handle = hold_single_replica(make_engine(str(tmp_path / "railyard.db")))
    finally:
        os.umask(previous)
    try:
        assert stat.S_IMODE(os.stat(tmp_path / "railyard.db.replica-lock").st_mode) == 0o600
    finally:
        handle.close()
