"""deploy/: the nginx site as `make cluster` renders it passes `nginx -t`; the systemd unit names what it reads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.cluster import SITE, ensure_packages, nginx_config, site_config

ROOT = Path(__file__).resolve().parents[1]


def test_the_cluster_points_the_site_at_its_own_port_and_instances() -> None:
    text = site_config(9000, [7001, 7002, 7003, 7004])
    assert re.findall(r'server 127\.0\.0\.1:(\d+) max_fails', text) == ['7001', '7002', '7003', '7004']
    assert 'listen 127.0.0.1:9000;' in text and 'listen 80;' not in text
    assert 'hash $vcc_route consistent;' in text and 'proxy_set_header Upgrade $http_upgrade;' in text


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    try:
        ensure_packages({'nginx': bool(shutil.which('nginx') or Path('/usr/sbin/nginx').exists())})
    except RuntimeError as error:
        pytest.skip(f'nginx not available: {error}')
    nginx = shutil.which('nginx') or '/usr/sbin/nginx'
    (tmp_path / 'nginx.conf').write_text(nginx_config(tmp_path, 9000, [7001, 7002, 7003]), encoding='utf-8')
    checked = subprocess.run(
        [nginx, '-t', '-p', str(tmp_path), '-c', str(tmp_path / 'nginx.conf')],
        check=False,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_unit_reads_the_shipped_env_file_and_the_env_file_sets_scaled_mode() -> None:
    unit = (ROOT / 'deploy' / 'systemd' / 'vcc-ui@.service').read_text()
    env = (ROOT / 'deploy' / 'systemd' / 'vcc-ui.env').read_text()
    assert 'EnvironmentFile=/etc/vcc-ui/vcc-ui.env' in unit and 'Environment=PORT=%i' in unit
    assert 'Environment=PYTHONMALLOC=malloc' in unit  # pruned pages' memory goes back (docs/ARCHITECTURE.md)
    names = {line.split('=', 1)[0] for line in env.splitlines() if line and not line.startswith('#')}
    assert {'DATABASE_URL', 'REDIS_URL', 'SECRET_KEY', 'TRUSTED_PROXIES'} <= names
    assert 'client_max_body_size 12m;' in SITE.read_text()
