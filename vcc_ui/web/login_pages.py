"""The beta and admin login pages as plain HTML forms: no NiceGUI client, so no socket opens before the password."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.requests import Request

from vcc_ui.i18n import LANGUAGES, best_language, translate

LANG_COOKIE = 'vcc_lang'  # the login pages' KO/EN choice (the app itself keeps it in NiceGUI's user storage)

PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>VCC UI</title>
<style>
* {{ box-sizing: border-box; }}
body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center; padding: 1rem;
  background: #f1f5f9; color: #0f172a; font-family: Roboto, system-ui, -apple-system, 'Noto Sans KR', sans-serif; }}
main {{ width: 100%; max-width: 24rem; background: white; border-radius: 8px; padding: 1.5rem;
  box-shadow: 0 1px 5px rgba(0,0,0,.2), 0 2px 2px rgba(0,0,0,.14); display: flex; flex-direction: column; gap: 1rem; }}
header {{ display: flex; align-items: center; gap: .5rem; }}
header b {{ font-size: 1.5rem; flex: 1; }}
nav a {{ font-size: .75rem; font-weight: 500; padding: 2px 10px; border-radius: 999px; text-decoration: none;
  color: #475569; background: #e2e8f0; }}
nav a.on {{ background: #5898d4; color: white; }}
h1 {{ font-size: 1.125rem; font-weight: 500; margin: 0 0 -.5rem; }}
p {{ margin: 0; color: #4b5563; }}
label {{ display: flex; flex-direction: column; gap: .25rem; font-size: .875rem; color: #475569; }}
input {{ font: inherit; font-size: 1rem; padding: .75rem; border: 1px solid #94a3b8; border-radius: 4px; }}
input:focus {{ outline: 2px solid #5898d4; border-color: #5898d4; }}
small {{ color: #64748b; }}
.error {{ color: #c10015; margin-top: -.5rem; }}
button, .button {{ font: inherit; font-weight: 500; padding: .7rem; border: 0; border-radius: 4px; background: #5898d4;
  color: white; cursor: pointer; text-align: center; text-decoration: none; }}
.flat {{ background: transparent; color: #5898d4; }}
</style>
</head>
<body>
<main>
<header><b>VCC UI</b><nav>{switch}</nav></header>
{body}
</main>
</body>
</html>
"""


def signed_in(target: str, cookie: str, value: str, *, max_age: int, secure: bool) -> RedirectResponse:
    """A 303 to `target` that sets the session cookie of a new beta or admin session."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(cookie, value, max_age=max_age, httponly=True, samesite='lax', secure=secure, path='/')
    return response


def page_language(request: Request) -> str:
    """?lang= first, then the login pages' cookie, then Accept-Language."""
    for choice in (request.query_params.get('lang'), request.cookies.get(LANG_COOKIE)):
        if choice in LANGUAGES:
            return choice
    return best_language(request.headers.get('accept-language'))


def render(request: Request, lang: str, body: str, *, status: int = 200, title: str = '') -> HTMLResponse:
    """The page around `body` with the KO/EN switch; a ?lang= choice is remembered in a cookie."""
    query = {k: v for k, v in request.query_params.items() if k != 'lang'}
    switch = ''.join(
        f'<a href="?{escape(urlencode({**query, "lang": code}))}" class="{"on" if code == lang else ""}"'
        f' data-lang="{code}">{code.upper()}</a> '
        for code in ('ko', 'en')
    )
    if title:
        body = f'<h1>{escape(title)}</h1>' + body
    response = HTMLResponse(PAGE.format(lang=lang, switch=switch, body=body), status_code=status)
    response.headers['Cache-Control'] = 'no-store'
    if request.query_params.get('lang') in LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.query_params['lang'], max_age=365 * 24 * 3600, samesite='lax')
    return response


def password_form(
    action: str, lang: str, *, next_path: str, submit: str, error: str = '', user_field: str | None = None
) -> str:
    """The form: an optional user field, the password, the error line, the button; `next` rides along hidden."""
    user = ''
    if user_field is not None:
        user = (
            f'<label>{escape(translate("admin_user", lang))}<input name="user" autocomplete="username" required'
            f' value="{escape(user_field)}" data-marker="admin-user">'
            f'<small>{escape(translate("admin_user_hint", lang))}</small></label>'
        )
    error_line = f'<p class="error" role="alert" data-marker="login-error">{escape(error)}</p>' if error else ''
    return (
        f'<form method="post" action="{escape(action)}" style="display:contents">{user}'
        f'<label>{escape(translate("login_password", lang))}<input type="password" name="password" required autofocus'
        f' autocomplete="current-password" data-marker="password"></label>{error_line}'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<button type="submit" data-marker="login-submit">{escape(submit)}</button></form>'
    )
