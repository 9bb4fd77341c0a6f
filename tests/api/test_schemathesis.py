"""schemathesis over /openapi.json, as a beta tester and as the admin: no request may end in a server error (5xx)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from tests.fixtures import make_settings, services
from vcc_ui.services import auth
from vcc_ui.web.app import install

BETA = 'open sesame'
ADMIN = ('admin', 's3cret-admin')
# routes that make the app connect to a URL from the request: hand-made loopback tests cover them
CONNECTING = {('POST', '/api/v1/admin/servers'), ('PUT', '/api/v1/admin/servers/{server_id}')}
# paths ending in /events are Server-Sent Event streams that stay open: tests/api/test_job_events.py covers them
# routes whose valid requests always await a write: the writer runs on this test's loop, which schemathesis's sync
# calls block (tests/api/test_tokens.py covers them)
WRITING = {('POST', '/api/v1/tokens')}
EXAMPLES = 4
EXPECTED = {('/healthz', 503)}  # /healthz answers 503 while a check fails (here: no ComfyUI server)


@pytest.mark.parametrize('who', ['beta', 'admin'])
async def test_no_request_ends_in_a_server_error(who: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, 'WRONG_PASSWORD_DELAY', 0.0)
    async with services(make_settings(tmp_path, beta_password=BETA, admin_password=ADMIN[1])) as app:
        web = FastAPI()
        install(web, app)
        if who == 'admin':
            headers = {'Authorization': 'Basic ' + base64.b64encode(':'.join(ADMIN).encode()).decode()}
        else:
            headers = {'Cookie': f'vcc_beta={app.gate.cookie_value()}'}
        schema = schemathesis.openapi.from_asgi('/openapi.json', web, headers=headers)
        errors: list[str] = []
        for operation in schema.get_all_operations():
            op = operation.ok()
            if (op.method.upper(), op.path) in CONNECTING | WRITING or op.path.endswith(('/test', '/events')):
                continue

            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case: schemathesis.Case) -> None:
                response = case.call(headers=headers)
                if response.status_code >= 500 and (case.path, response.status_code) not in EXPECTED:
                    errors.append(f'{case.method} {case.formatted_path} -> {response.status_code}')

            given(op.as_strategy())(check)()
        assert not errors, errors
