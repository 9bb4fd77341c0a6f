"""ApiError, the one error answer of the web layer, and the one place where service refusals get their HTTP status."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from vcc_ui.i18n import STRINGS, best_language, translate
from vcc_ui.services.image_meta import ImageProblem, UploadRejected
from vcc_ui.services.jobs import SubmitError
from vcc_ui.services.servers import ServerProblem
from vcc_ui.web.schemas import ErrorBody, ErrorDetail

# the HTTP status of each code the services refuse with (SubmitError, ServerProblem, ImageProblem, UploadRejected)
STATUS_BY_CODE: Mapping[str, int] = MappingProxyType(
    {
        'invalid': 422,
        'invalid_params': 422,
        'not_an_image': 422,
        'bomb': 422,
        'blocked': 403,
        'quota': 403,
        'not_found': 404,
        'unknown_workflow': 404,
        'conflict': 409,
        'busy': 409,
        'gone': 410,
        'too_large': 413,
        'type_not_allowed': 415,
        'limit': 429,
        'unavailable': 503,
    }
)
SERVICE_ERRORS = (SubmitError, ServerProblem, ImageProblem, UploadRejected)


class ApiError(Exception):
    """A refused request: answers `{'detail': {'code', 'message', 'field'}}` with its status and headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, error: SubmitError | ServerProblem | ImageProblem | UploadRejected, lang: str = 'en') -> ApiError:
        """The answer to a service's refusal, its status picked by the refusal's code (said in `lang` where known)."""
        if isinstance(error, SubmitError) and f'gen_{error.code}_{error.reason}' in STRINGS:
            message = translate(f'gen_{error.code}_{error.reason}', lang, **error.values)
            return cls(STATUS_BY_CODE.get(error.code, 422), error.code, message, error.field)
        if isinstance(error, ImageProblem) and error.code == 'unavailable':
            return cls(503, error.code, translate('storage_unavailable', lang))
        if isinstance(error, UploadRejected):
            message, field = error.reason, 'file'
        elif isinstance(error, ImageProblem):
            message, field = error.message, None
        else:
            message, field = error.message, error.field
        return cls(STATUS_BY_CODE.get(error.code, 422), error.code, message, field)

    def response(self) -> JSONResponse:
        """The JSON answer."""
        body = ErrorBody(detail=ErrorDetail(code=self.code, message=self.message, field=self.field))
        return JSONResponse(body.model_dump(), status_code=self.status, headers=self.headers or None)


async def answer_api_error(request: Request, error: Exception) -> Response:
    """The exception handler of ApiError."""
    assert isinstance(error, ApiError)
    return error.response()


def install_error_handler(app: FastAPI) -> None:
    """Answer every ApiError raised by a route or a dependency with its JSON body."""
    app.add_exception_handler(ApiError, answer_api_error)


class ServiceRoute(APIRoute):
    """A route whose endpoint lets the services' refusals through: each one answers as its ApiError."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so that a service refusal becomes an ApiError."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SERVICE_ERRORS as error:
                raise ApiError.of(error, best_language(request.headers.get('accept-language'))) from error

        return handle
