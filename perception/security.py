"""Security headers and cookies, in one place for every page.

- A Content-Security-Policy that allows no inline script or style and no other host: the pages
  carry their CSS in ``static/`` and need no JavaScript, so an injected ``<script>`` cannot run.
- ``frame-ancestors 'none'`` (and ``X-Frame-Options`` for old browsers): no page can be framed,
  so no one can trick a lead into clicking "open the wave" under a disguise.
- HSTS and ``Secure`` cookies when the request came over TLS, directly or through the reverse
  proxies named by ``PERCEPTION_PROXY_COUNT`` (which makes their ``X-Forwarded-*`` headers trusted).
  Plain-HTTP serving on a laptop keeps working: a ``Secure`` cookie would never come back there.
"""

from __future__ import annotations

from flask import Flask, Request, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def served_over_tls(current: Request) -> bool:
    """True when the browser reached us over TLS (behind trusted proxies, as they tell)."""
    return current.is_secure


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over TLS, whatever the config says."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (bool(request) and served_over_tls(request))


_HEADERS_BY_KEY = tuple((name.lower(), name, value) for name, value in HEADERS.items())


def _add_headers(response: Response) -> Response:
    # A view may set a narrower policy of its own (standalone SVG charts do): keep it. One pass over
    # the response's headers, then one extend: setdefault would search them once per header.
    present = {name.lower() for name, _value in response.headers}
    response.headers.extend([(name, value) for key, name, value in _HEADERS_BY_KEY if key not in present])
    if served_over_tls(request):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_security(app: Flask) -> None:
    """Headers on every response, TLS-aware cookies, and trust in the configured proxies."""
    proxies = int(app.config.get("PROXY_COUNT", 0))
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)  # type: ignore[method-assign]
    app.session_interface = TlsAwareSessionInterface()
    if app.config.get("BASE_URL", "").startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    app.after_request(_add_headers)
