"""A store in S3 (or any S3-compatible server) through boto3.

Credentials, region and endpoint come from the standard AWS configuration:
environment variables (`AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_S3` included),
`~/.aws/config` and instance or pod identity. A single PUT or a completed
multipart upload is atomic in S3, so objects never appear half written.
Objects are written with no ACL: private to the bucket's owner, S3's default
and the only form a bucket with ACLs disabled accepts. Who else reads them is
the bucket policy's to say, and Railyard never changes it.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from railyard.errors import StorageError
from railyard.storage.base import Store, check_range


def is_s3_uri(uri: str) -> bool:
    return str(uri).startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise StorageError(f"expected s3://bucket/key, got {uri!r}")
    return bucket, key


def _endpoint_url() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


# The environment that shapes a client: one client is made per distinct configuration and kept.
_CONFIGURATION = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                  "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")
CONNECTIONS = 32  # requests one client makes at once (threads reading results, multipart parts)


def _client():
    """A client for this process's AWS configuration, made once: making one costs tens of milliseconds of CPU, which
    a store per object read (a result.json per finished job) would pay each time. Clients are thread-safe, and
    refresh their credentials (a pod's identity) themselves. Threads that ask at once wait for the one being made
    rather than each making their own: sixteen made at once held a follower's interpreter for seconds."""
    configuration = tuple(os.environ.get(name) for name in _CONFIGURATION)
    with _MAKING:
        return _client_for(configuration)


_MAKING = threading.Lock()


@functools.lru_cache(maxsize=8)
def _client_for(configuration: tuple) -> object:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("s3", endpoint_url=_endpoint_url(), config=Config(max_pool_connections=CONNECTIONS))


def arrow_s3_filesystem():
    """A pyarrow S3FileSystem configured from the same AWS configuration as boto3."""
    import boto3
    import pyarrow.fs

    session = boto3.session.Session()
    credentials = session.get_credentials()
    options = {"region": session.region_name or "us-east-1"}
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
    endpoint = _endpoint_url()
    if endpoint:
        options["endpoint_override"] = endpoint
        options["scheme"] = "https" if endpoint.startswith("https") else "http"
    return pyarrow.fs.S3FileSystem(**options)


class S3Store(Store):
    def __init__(self, uri: str):
        self.bucket, prefix = split_s3_uri(uri)
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.client = _client()

    def _key(self, relpath: str) -> str:
        return f"{self.prefix}/{relpath}" if self.prefix else relpath

    def _fail(self, verb: str, relpath: str, exc: Exception) -> StorageError:
        return StorageError(f"cannot {verb} {self.url(relpath)}: {exc}")

    def write_bytes(self, relpath: str, data: bytes) -> str:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(relpath), Body=data)
        except Exception as exc:  # botocore raises many unrelated types
            raise self._fail("write", relpath, exc) from exc
        return self.url(relpath)

    def put_file(self, relpath: str, local_path: Path) -> str:
        try:
            self.client.upload_file(str(local_path), self.bucket, self._key(relpath))
        except Exception as exc:
            raise self._fail("write", relpath, exc) from exc
        return self.url(relpath)

    def delete(self, relpath: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(relpath))
        except Exception as exc:
            raise self._fail("delete", relpath, exc) from exc

    def read_bytes(self, relpath: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(relpath))["Body"].read()
        except Exception as exc:
            raise self._fail("read", relpath, exc) from exc

    def read_range(self, relpath: str, offset: int, length: int) -> bytes:
        check_range(offset, length)
        if length == 0:
            return b""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(relpath), Range=f"bytes={offset}-{offset + length - 1}")
            return response["Body"].read()
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "InvalidRange":
                return b""  # offset at or past the end
            raise self._fail("read", relpath, exc) from exc

    def exists(self, relpath: str) -> bool:
        return any(True for _ in self._keys(self._key(relpath), exact=True))

    def _keys(self, prefix: str, exact: bool = False) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if not exact or item["Key"] == prefix:
                        yield item["Key"]
        except Exception as exc:
            raise StorageError(f"cannot list s3://{self.bucket}/{prefix}: {exc}") from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        for key in self._keys(self._key(prefix)):
            yield key[strip:]
