"""The S3 backend: the same keys as the local folder, as objects under `s3://bucket/prefix/` (boto3, blocking)."""

from __future__ import annotations

import logging
import mimetypes
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vcc_ui.services.storage.core import (
    DEFAULT_MAX_DECODES,
    DEFAULT_MAX_PIXELS,
    FileInfo,
    Storage,
    StorageError,
    StorageUnavailable,
    check_rel,
)

log = logging.getLogger(__name__)
CHUNK = 1 << 20
DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
MISSING = frozenset({'404', 'NoSuchKey', 'NotFound'})
MAX_CONNECTIONS = 32  # worker threads may all talk to S3 at once (asyncio's default pool has up to 32 threads)


@dataclass(frozen=True, kw_only=True, slots=True)
class S3Config:
    """Where the objects live and how to reach them."""

    bucket: str
    prefix: str = ''
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    presign_seconds: int = 0
    connect_timeout: float = 3
    read_timeout: float = 10


def _code(error: ClientError) -> str:
    return str(error.response.get('Error', {}).get('Code', ''))


class S3Storage(Storage):
    """Objects in one bucket under a prefix; every S3 failure but a missing key raises StorageUnavailable."""

    kind = 's3'

    def __init__(
        self, config: S3Config, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_decodes: int = DEFAULT_MAX_DECODES
    ) -> None:
        super().__init__(max_pixels=max_pixels, max_decodes=max_decodes)
        self.config = config
        self.presign_seconds = config.presign_seconds
        self.bucket = config.bucket
        self.prefix = config.prefix.strip('/') + '/' if config.prefix.strip('/') else ''
        self.client: Any = boto3.session.Session().client(
            's3',
            endpoint_url=config.endpoint_url or None,
            region_name=config.region or None,
            aws_access_key_id=config.access_key_id or None,
            aws_secret_access_key=config.secret_access_key or None,
            config=Config(
                signature_version='s3v4',
                s3={'addressing_style': 'path'},
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                retries={'max_attempts': 2, 'mode': 'standard'},
                max_pool_connections=MAX_CONNECTIONS,
            ),
        )
        self._count_lock = threading.Lock()
        self._requests = 0
        self.client.meta.events.register('before-send.s3', self._count)

    def _count(self, **_: Any) -> None:
        with self._count_lock:
            self._requests += 1

    @property
    def requests(self) -> int:
        """How many HTTP requests this backend has sent to S3 (retries included)."""
        return self._requests

    @property
    def location(self) -> str:
        """The bucket and prefix."""
        return f's3://{self.bucket}/{self.prefix}'

    def _key(self, rel_path: str) -> str:
        return self.prefix + '/'.join(check_rel(rel_path))

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) :]

    def _failed(self, action: str, rel_path: str, error: Exception) -> StorageUnavailable:
        reason = _code(error) if isinstance(error, ClientError) else type(error).__name__
        log.warning('S3 %s of %s failed: %s', action, rel_path, error)
        return StorageUnavailable(f'cannot {action} {rel_path}: S3 {reason}')

    async def start(self) -> None:
        """Nothing to prepare; the bucket is checked by /healthz and every write."""

    async def stop(self) -> None:
        """Nothing to flush: every put is durable when S3 answers it."""

    def ensure_bucket(self) -> bool:
        """Create the bucket when it does not exist; return whether it was created."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as error:
            if _code(error) not in {*MISSING, 'NoSuchBucket'}:
                raise self._failed('check the bucket', self.bucket, error) from error
        except BotoCoreError as error:
            raise self._failed('check the bucket', self.bucket, error) from error
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            raise self._failed('create the bucket', self.bucket, error) from error
        log.info('created the S3 bucket %s', self.bucket)
        return True

    def read_bytes(self, rel_path: str) -> bytes:
        """Return an object's content."""
        key = self._key(rel_path)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)['Body'].read()
        except ClientError as error:
            if _code(error) in MISSING:
                raise StorageError(f'cannot read {rel_path!r}: no such file') from error
            raise self._failed('read', rel_path, error) from error
        except BotoCoreError as error:
            raise self._failed('read', rel_path, error) from error

    def stat(self, rel_path: str) -> FileInfo | None:
        """Return an object's size and write time, or None when there is none."""
        key = self._key(rel_path)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _code(error) in MISSING:
                return None
            raise self._failed('look up', rel_path, error) from error
        except BotoCoreError as error:
            raise self._failed('look up', rel_path, error) from error
        return FileInfo(rel_path, int(head['ContentLength']), head['LastModified'])

    def write_file(self, rel_path: str, data: bytes) -> None:
        """Put one object (a PUT replaces an object whole, so readers never see half of it)."""
        key = self._key(rel_path)
        media_type = mimetypes.guess_type(rel_path)[0] or 'application/octet-stream'
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=media_type)
        except (ClientError, BotoCoreError) as error:
            raise self._failed('write', rel_path, error) from error

    def write_files(self, files: list[tuple[str, bytes]], *, durable: bool = True) -> None:
        """Put several objects (each put is durable); on a failure delete those put."""
        written: list[str] = []
        try:
            for rel, payload in files:
                self.write_file(rel, payload)
                written.append(rel)
        except StorageUnavailable:
            for rel in written:
                try:
                    self.remove(rel)
                except StorageUnavailable:
                    log.warning('cannot remove the partial object %s; reindex will report it', rel)
            raise

    def remove(self, rel_path: str) -> None:
        """Delete one object (S3 answers a missing key like a deleted one)."""
        key = self._key(rel_path)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _code(error) in MISSING:
                return
            raise self._failed('delete', rel_path, error) from error
        except BotoCoreError as error:
            raise self._failed('delete', rel_path, error) from error

    def list_files(self, prefix: str) -> Iterator[FileInfo]:
        """Yield every object under a folder, a page of 1,000 at a time."""
        folder = self._key(prefix.rstrip('/')) + '/'
        try:
            for page in self.client.get_paginator('list_objects_v2').paginate(Bucket=self.bucket, Prefix=folder):
                for item in page.get('Contents', []):
                    yield FileInfo(self._rel(item['Key']), int(item['Size']), item['LastModified'])
        except (ClientError, BotoCoreError) as error:
            raise self._failed('list', prefix, error) from error

    def remove_tree(self, prefix: str) -> bool:
        """Delete every object under a folder, 1,000 per request."""
        rels = [info.rel_path for info in self.list_files(prefix)]
        for start in range(0, len(rels), DELETE_BATCH):
            keys = [{'Key': self._key(rel)} for rel in rels[start : start + DELETE_BATCH]]
            try:
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={'Objects': keys, 'Quiet': True})
            except (ClientError, BotoCoreError) as error:
                raise self._failed('delete', prefix, error) from error
            if answer.get('Errors'):
                raise StorageUnavailable(f'cannot delete {len(answer["Errors"])} object(s) under {prefix}')
        return bool(rels)

    def writable(self) -> bool:
        """Whether an object can be put and deleted now."""
        rel = f'.probe/{uuid.uuid4().hex}'
        try:
            self.write_file(rel, b'probe')
            self.remove(rel)
        except StorageUnavailable:
            return False
        return True

    def disk_free_mb(self) -> None:
        """S3 has no free space to check."""
        return None

    def local_path(self, rel_path: str) -> None:
        """Objects are never local files."""
        return None

    def open_chunks(self, rel_path: str) -> tuple[int, Iterator[bytes]]:
        """Return an object's size and its content in 1 MiB chunks, read as the response is sent."""
        key = self._key(rel_path)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _code(error) in MISSING:
                raise StorageError(f'no file at {rel_path!r}') from error
            raise self._failed('read', rel_path, error) from error
        except BotoCoreError as error:
            raise self._failed('read', rel_path, error) from error
        body = answer['Body']

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return int(answer['ContentLength']), chunks()

    def presigned_url(self, rel_path: str, *, media_type: str, disposition: str | None = None) -> str | None:
        """A GET URL valid for S3_PRESIGN_SECONDS, or None when files are served through the app (0)."""
        if self.presign_seconds <= 0:
            return None
        params = {'Bucket': self.bucket, 'Key': self._key(rel_path), 'ResponseContentType': media_type}
        if disposition:
            params['ResponseContentDisposition'] = disposition
        return self.client.generate_presigned_url('get_object', Params=params, ExpiresIn=self.presign_seconds)
