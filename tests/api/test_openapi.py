"""The app's OpenAPI schema: every JSON answer of /api/v1 and /healthz is documented by a response model."""

from __future__ import annotations

from nicegui.testing import User

from tests.pages.conftest import app_env, sim  # noqa: F401 (the page tests' app configuration)

JSON = 'application/json'


async def test_every_api_route_documents_its_answer(user: User) -> None:
    spec = (await user.http_client.get('/openapi.json')).json()
    models = spec['components']['schemas']
    operations = [
        (method.upper(), path, operation)
        for path, methods in spec['paths'].items()
        if path.startswith('/api/v1/') or path == '/healthz'
        for method, operation in methods.items()
    ]
    assert len(operations) >= 35, [(m, p) for m, p, _ in operations]  # the whole API is in the schema
    for method, path, operation in operations:
        answers = [answer for status, answer in operation['responses'].items() if status in {'200', '201'}]
        assert len(answers) == 1, (method, path)
        content = answers[0].get('content')
        assert content, (method, path)
        for media_type, entry in content.items():
            assert entry.get('schema'), (method, path, media_type)
            if media_type == JSON:
                ref = entry['schema'].get('$ref', '')
                assert ref.startswith('#/components/schemas/'), (method, path)
                assert models[ref.rsplit('/', 1)[1]]['properties'], (method, path)
            else:
                assert entry['schema'] == {'type': 'string', 'format': 'binary'}, (method, path, media_type)
