"""An HTTP server speaking the slice of the Kubernetes API that the Kubernetes executor uses.

It answers as a real API server does: objects with uid, resourceVersion and
creationTimestamp; `Status` bodies for 404 (NotFound), 409 (AlreadyExists) and
410 (Expired); merge patches; lists by label selector with the resourceVersion
they were taken at; watch streams of JSON lines from a resourceVersion with
ADDED/MODIFIED/DELETED events, a BOOKMARK before the server ends one when asked
for (`allowWatchBookmarks`), and an ERROR event (410) when the requested
resourceVersion is too old; pod logs cut at `limitBytes`; deleting a Job deletes
its pods and every object it owns. Tests change Jobs and Pods through its
methods, as the Job controller and kubelet would, and may compact history
(`expire_history`), drop every open watch connection (`drop_watches`) or hold
watch events back (`hold_watches`). Every request is recorded, so tests can count them.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import json
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

JOBS = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs(?:/(?P<name>[^/]+))?$")
CONFIGMAPS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/configmaps(?:/(?P<name>[^/]+))?$")
PODS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+)(?P<log>/log)?)?$")
NETWORK_POLICIES = re.compile(r"^/apis/networking.k8s.io/v1/namespaces/(?P<ns>[^/]+)/networkpolicies(?:/(?P<name>[^/]+))?$")
SERVICES = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/services(?:/(?P<name>[^/]+))?$")
ROUTES = (("jobs", JOBS), ("configmaps", CONFIGMAPS), ("pods", PODS), ("networkpolicies", NETWORK_POLICIES),
          ("services", SERVICES))
# kind -> (resource as named in Status messages, List kind, apiVersion)
KINDS = {
    "jobs": ("jobs.batch", "JobList", "batch/v1"),
    "configmaps": ("configmaps", "ConfigMapList", "v1"),
    "pods": ("pods", "PodList", "v1"),
    "networkpolicies": ("networkpolicies.networking.k8s.io", "NetworkPolicyList", "networking.k8s.io/v1"),
    "services": ("services", "ServiceList", "v1"),
}
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: dict, patch: dict) -> None:
    """RFC 7386: objects merge key by key, null removes a key, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def status_body(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class FakeKubeAPI:
    def __init__(self):
        self.lock = threading.Condition()
        self.version = 100
        self.oldest_watchable = 0
        self.objects: dict[tuple[str, str, str], dict] = {}  # (kind, namespace, name) -> object
        self.events: list[tuple[int, str, str, dict]] = []   # (resourceVersion, kind, type, object)
        self.logs: dict[str, str | bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.queries: list[tuple[str, str, dict]] = []       # (method, path, query parameters)
        self.drops = 0             # bumped to end every open watch without its closing chunk
        self.watches_held = False  # while True, open watches send nothing
        self.expired_watches = 0   # watches answered 410
        self.open_watches = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FakeKubeAPI":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    # --- state changes, as the controllers would make them -------------------------------------
    def _store(self, kind: str, obj: dict, event: str) -> dict:
        with self.lock:
            self.version += 1
            obj["metadata"]["resourceVersion"] = str(self.version)
            key = (kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
            if event == "DELETED":
                self.objects.pop(key, None)
            else:
                self.objects[key] = obj
            self.events.append((self.version, kind, event, copy.deepcopy(obj)))
            self.lock.notify_all()
            return obj

    def create(self, kind: str, obj: dict) -> dict:
        """Store a new object as a POST does (no conflict check)."""
        obj["metadata"].setdefault("namespace", "railyard")
        obj["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now())
        if kind == "jobs":
            obj.setdefault("status", {})
        return self._store(kind, obj, "ADDED")

    def job(self, name: str, namespace: str = "railyard") -> dict | None:
        return copy.deepcopy(self.objects.get(("jobs", namespace, name)))

    def set_job_status(self, name: str, status: dict, namespace: str = "railyard") -> None:
        obj = self.objects[("jobs", namespace, name)]
        obj["status"] = status
        self._store("jobs", obj, "MODIFIED")

    def add_pod(self, job_name: str, pod_name: str, status: dict, namespace: str = "railyard", log: str | bytes = "",
                index: int | None = None) -> None:
        """A pod of the Job; `index` is its completion index in an Indexed Job (label and annotation, as the controller sets)."""
        job = self.objects[("jobs", namespace, job_name)]
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": namespace, "uid": str(uuid.uuid4()),
                         "creationTimestamp": now(), "labels": dict(job["spec"]["template"]["metadata"]["labels"])},
            "spec": copy.deepcopy(job["spec"]["template"]["spec"]),
            "status": status,
        }
        if index is not None:
            pod["metadata"]["labels"][COMPLETION_INDEX] = str(index)
            pod["metadata"]["annotations"] = {COMPLETION_INDEX: str(index)}
        self._store("pods", pod, "ADDED")
        self.logs[pod_name] = log

    def set_pod_status(self, pod_name: str, status: dict, namespace: str = "railyard") -> None:
        obj = self.objects[("pods", namespace, pod_name)]
        obj["status"] = status
        self._store("pods", obj, "MODIFIED")

    def expire_history(self) -> None:
        """Forget past events, as etcd compaction does after writes elsewhere: every resourceVersion handed
        out so far now answers 410; a new list's is watchable."""
        with self.lock:
            self.version += 1
            self.oldest_watchable = self.version
            self.events.clear()

    def drop_watches(self) -> None:
        """Cut every open watch connection mid-stream, as a restarting API server or a flaky network would."""
        with self.lock:
            self.drops += 1
            self.lock.notify_all()

    def hold_watches(self, held: bool = True) -> None:
        """Hold back (or, with False, release) the events of open watches, as a lagging watch would."""
        with self.lock:
            self.watches_held = held
            self.lock.notify_all()

    def count(self, since: int = 0, watch: bool | None = None) -> int:
        """Requests from the `since`-th on; only watches (True) or only the others (False)."""
        queries = self.queries[since:]
        if watch is None:
            return len(queries)
        return sum((q.get("watch") in ("true", "1")) == watch for _, _, q in queries)

    # --- HTTP -----------------------------------------------------------------------------------
    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args):
                pass

            def _send(self, code: int, body, content_type: str = "application/json") -> None:
                if isinstance(body, bytes):
                    data = body
                else:
                    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _route(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.requests.append((self.command, url.path))
                api.queries.append((self.command, url.path, query))
                for kind, pattern in ROUTES:
                    match = pattern.match(url.path)
                    if match:
                        return kind, match.groupdict(), query
                return None, {}, query

            def _not_found(self, kind: str, name: str) -> None:
                self._send(404, status_body(404, "NotFound", f'{KINDS[kind][0]} "{name}" not found'))

            def do_POST(self):
                kind, parts, _ = self._route()
                obj = self._body()
                name = obj["metadata"]["name"]
                if (kind, parts["ns"], name) in api.objects:
                    return self._send(409, status_body(409, "AlreadyExists", f'{KINDS[kind][0]} "{name}" already exists'))
                obj["metadata"]["namespace"] = parts["ns"]
                obj.pop("status", None)
                self._send(201, api.create(kind, obj))

            def do_GET(self):
                kind, parts, query = self._route()
                if kind is None:
                    return self._send(404, status_body(404, "NotFound", "the server could not find the requested resource"))
                if kind == "pods" and parts.get("log"):
                    if parts["name"] not in api.logs:
                        return self._not_found("pods", parts["name"])
                    log = api.logs[parts["name"]]
                    log = log.encode() if isinstance(log, str) else log
                    if query.get("limitBytes"):
                        log = log[:int(query["limitBytes"])]
                    return self._send(200, log, "text/plain")
                if parts.get("name"):
                    obj = api.objects.get((kind, parts["ns"], parts["name"]))
                    return self._send(200, obj) if obj else self._not_found(kind, parts["name"])
                if query.get("watch") in ("true", "1"):
                    return self._watch(kind, parts["ns"], query)
                with api.lock:
                    items = [o for (k, ns, _), o in sorted(api.objects.items()) if k == kind and ns == parts["ns"] and _selected(o, query)]
                    body = json.dumps({"kind": KINDS[kind][1], "apiVersion": KINDS[kind][2],
                                       "metadata": {"resourceVersion": str(api.version)}, "items": items})
                self._send(200, body)

            def _watch(self, kind: str, namespace: str, query: dict) -> None:
                with api.lock:
                    api.open_watches += 1
                try:
                    self._stream_events(kind, namespace, query)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped watching
                    self.close_connection = True
                finally:
                    with api.lock:
                        api.open_watches -= 1

            def _stream_events(self, kind: str, namespace: str, query: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                since = int(query.get("resourceVersion") or api.version)
                end = time.monotonic() + float(query.get("timeoutSeconds") or 5)
                drops = api.drops

                def chunk(event: dict) -> None:
                    data = (json.dumps(event) + "\n").encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()

                with api.lock:
                    if since < api.oldest_watchable:
                        api.expired_watches += 1
                        chunk({"type": "ERROR", "object": status_body(410, "Expired", f"too old resource version: {since} ({api.oldest_watchable})")})
                    else:
                        while True:
                            if api.drops != drops:
                                self.close_connection = True
                                self.connection.shutdown(socket.SHUT_RDWR)
                                return
                            if not api.watches_held:
                                start = bisect.bisect_right(api.events, since, key=lambda e: e[0])
                                for version, k, event_type, obj in api.events[start:]:
                                    if k == kind and obj["metadata"]["namespace"] == namespace and _selected(obj, query):
                                        chunk({"type": event_type, "object": obj})
                                    since = version
                            remaining = end - time.monotonic()
                            if remaining <= 0:
                                break
                            api.lock.wait(remaining)
                        if query.get("allowWatchBookmarks") in ("true", "1") and not api.watches_held:
                            metadata = {"resourceVersion": str(max(since, api.version))}
                            chunk({"type": "BOOKMARK", "object": {"kind": KINDS[kind][1].removesuffix("List"),
                                                                   "apiVersion": KINDS[kind][2], "metadata": metadata}})
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def do_PATCH(self):
                kind, parts, _ = self._route()
                obj = api.objects.get((kind, parts["ns"], parts["name"]))
                if obj is None:
                    return self._not_found(kind, parts["name"])
                merge_patch(obj, self._body())
                self._send(200, api._store(kind, obj, "MODIFIED"))

            def do_DELETE(self):
                kind, parts, query = self._route()
                self._body()
                obj = api.objects.get((kind, parts["ns"], parts["name"]))
                if obj is None:
                    return self._not_found(kind, parts["name"])
                if kind == "jobs":
                    job_id = obj["metadata"]["labels"].get("railyard.io/job-id")
                    for (k, ns, name), pod in list(api.objects.items()):
                        if k == "pods" and pod["metadata"]["labels"].get("railyard.io/job-id") == job_id:
                            api._store("pods", pod, "DELETED")
                    for (k, ns, name), owned in list(api.objects.items()):
                        owners = owned["metadata"].get("ownerReferences") or []
                        if any(o["uid"] == obj["metadata"]["uid"] for o in owners):
                            api._store(k, owned, "DELETED")
                api._store(kind, obj, "DELETED")
                self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                 "details": {"name": parts["name"], "kind": kind, "uid": obj["metadata"]["uid"]}})

        return Handler


def _selected(obj: dict, query: dict) -> bool:
    field = query.get("fieldSelector")
    if field:
        key, _, value = field.partition("=")
        if key == "metadata.name" and obj["metadata"]["name"] != value:
            return False
    labels = query.get("labelSelector")
    if labels:
        for term in labels.split(","):
            key, _, value = term.partition("=")
            if (obj["metadata"].get("labels") or {}).get(key) != value:
                return False
    return True
