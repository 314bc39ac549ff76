"""A watched cache of Railyard's Jobs and Pods, kept the way client-go informers keep theirs.

One LIST, then one WATCH from the listed resourceVersion, per kind, on a
background thread, so that following N jobs costs a few requests a minute
instead of N per look. A watch the server ends (its timeout) is resumed from
the last resourceVersion seen, bookmarks included; 410 Gone (that version was
compacted away) relists at once; a dropped connection or any other error
relists after an exponential backoff. A relist replaces what the cache holds,
so objects deleted meanwhile go too. Objects are kept as the API's JSON
(dicts), the latest per name.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable

log = logging.getLogger("railyard.kube_cache")
JOB_ID_LABEL = "railyard.io/job-id"
# Trainer Jobs and their pods carry both (render.py); the service's own pods do not carry the second.
SELECTOR = "app.kubernetes.io/name=railyard,app.kubernetes.io/component=trainer"
BACKOFF_FIRST_SECONDS, BACKOFF_MAX_SECONDS = 0.5, 30.0
CONNECT_SECONDS = 10.0
READ_SLACK_SECONDS = 30.0  # beyond the watch's own timeout: a silent connection is dead


class Gone(Exception):
    """The API no longer has the resourceVersion asked for (410): list again."""


class Informer:
    """The latest objects of one kind matching SELECTOR in one namespace, indexed by job id."""

    def __init__(self, kind: str, list_function: Callable, namespace: str, changed: threading.Condition,
                 watch_seconds: int):
        self.kind = kind
        self.list_function = list_function
        self.namespace = namespace
        self.changed = changed
        self.watch_seconds = watch_seconds
        self.synced = threading.Event()
        self.resource_version: str | None = None
        self._objects: dict[str, dict] = {}
        self._by_job: dict[str, dict[str, dict]] = {}
        self._stopping = threading.Event()
        self._stream = None
        self._thread = threading.Thread(target=self._run, name=f"railyard-{kind}-informer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._stream is not None:
            self._stream.stop()
        self._thread.join(timeout=5)

    def get(self, name: str) -> dict | None:
        with self.changed:
            return self._objects.get(name)

    def of_job(self, job_id: str) -> list[dict]:
        with self.changed:
            return list(self._by_job.get(job_id, {}).values())

    # --- the list and watch loop -----------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if self.resource_version is None:
                    self._list()
                self._watch()
                failures = 0
            except Gone:
                log.info("%s watch: resourceVersion %s is gone, listing again", self.kind, self.resource_version)
                self.resource_version = None
            except Exception as exc:
                if self._stopping.is_set():
                    return
                failures += 1
                delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1)) * random.uniform(0.8, 1.2)
                log.warning("%s watch failed (%s), listing again in %.1f s", self.kind, exc, delay)
                self.resource_version = None
                self._stopping.wait(delay)

    def _list(self) -> None:
        response = self.list_function(self.namespace, label_selector=SELECTOR, _preload_content=False,
                                      _request_timeout=(CONNECT_SECONDS, self.watch_seconds + READ_SLACK_SECONDS))
        try:
            listed = json.loads(response.data)
        finally:
            response.release_conn()
        objects = {o["metadata"]["name"]: o for o in listed.get("items") or []}
        by_job: dict[str, dict[str, dict]] = {}
        for name, obj in objects.items():
            by_job.setdefault(_job_id(obj), {})[name] = obj
        with self.changed:
            self._objects, self._by_job = objects, by_job
            self.resource_version = listed["metadata"]["resourceVersion"]
            self.synced.set()
            self.changed.version += 1
            self.changed.notify_all()

    def _watch(self) -> None:
        """One watch request, applying its events until the server ends it."""
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        self._stream = stream = watch.Watch(return_type="object")  # events as plain dicts
        if self._stopping.is_set():
            return
        try:
            for event in stream.stream(self.list_function, self.namespace, label_selector=SELECTOR,
                                       resource_version=self.resource_version, allow_watch_bookmarks=True,
                                       timeout_seconds=self.watch_seconds,
                                       _request_timeout=(CONNECT_SECONDS, self.watch_seconds + READ_SLACK_SECONDS)):
                self._apply(event["type"], event["raw_object"])
                if self._stopping.is_set():
                    return
        except ApiException as exc:
            if exc.status == 410:
                raise Gone() from exc
            raise
        finally:
            stream.stop()
            self._stream = None

    def _apply(self, event: str, obj: dict) -> None:
        with self.changed:
            self.resource_version = obj["metadata"]["resourceVersion"]
            if event == "BOOKMARK":
                return
            name, job_id = obj["metadata"]["name"], _job_id(obj)
            if event == "DELETED":
                self._objects.pop(name, None)
                siblings = self._by_job.get(job_id, {})
                siblings.pop(name, None)
                if not siblings:
                    self._by_job.pop(job_id, None)
            else:
                self._objects[name] = obj
                self._by_job.setdefault(job_id, {})[name] = obj
            self.changed.version += 1
            self.changed.notify_all()


def _job_id(obj: dict) -> str:
    return (obj["metadata"].get("labels") or {}).get(JOB_ID_LABEL, "")


class _Changes(threading.Condition):
    """A condition with a count of the changes applied so far."""

    def __init__(self):
        super().__init__()
        self.version = 0


class KubeCache:
    """Railyard's Jobs and Pods in one namespace, each kind from one informer."""

    def __init__(self, batch, core, namespace: str, watch_seconds: int):
        self.changes = _Changes()
        self.jobs = Informer("jobs", batch.list_namespaced_job, namespace, self.changes, watch_seconds)
        self.pods = Informer("pods", core.list_namespaced_pod, namespace, self.changes, watch_seconds)

    def start(self) -> "KubeCache":
        self.jobs.start()
        self.pods.start()
        return self

    def stop(self) -> None:
        self.jobs.stop()
        self.pods.stop()

    @property
    def synced(self) -> bool:
        return self.jobs.synced.is_set() and self.pods.synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return self.jobs.synced.wait(timeout) and self.pods.synced.wait(max(0.0, deadline - time.monotonic()))

    def jobs_of(self, job_id: str) -> list[dict]:
        return self.jobs.of_job(job_id)

    def pods_of(self, job_id: str) -> list[dict]:
        return self.pods.of_job(job_id)

    @property
    def version(self) -> int:
        """How many changes the cache has taken in; pass it to wait_for_change."""
        with self.changes:
            return self.changes.version

    def wait_for_change(self, since: int, timeout: float) -> None:
        """Return once the cache has changed after `since`, or after `timeout` seconds."""
        with self.changes:
            self.changes.wait_for(lambda: self.changes.version != since, timeout)
