"""The web app of one project: ``create_app(PROJECT)`` → a FastAPI application (``icam serve`` runs it).

Server-rendered pages (Jinja2, HTMX for the small in-page updates, Leaflet for the map: all served from the
package, so it works on a LAN with no internet) and a JSON API under ``/api/v1`` with its OpenAPI document
at ``/api/v1/openapi.json``. The database is the project's registry and ledger (SQLite
``PROJECT/.icam/ledger.sqlite``, or PostgreSQL by URL), created and migrated on start.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from icam import __version__
from icam.report import i18n
from icam.store.db import open_engine
from icam.web import api, pages, pages_field
from icam.web.deps import LANG_COOKIE, LoginLimiter

# What a browser may load and from where: only this server (ASVS 14.4.3); no inline script anywhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'")

API_DESCRIPTION = ("The registry, ledger, agreements and enforcement of one REDD+ project. Authenticate scripts with "
                   "`Authorization: Bearer <token>` (icam users token).")


def _environments() -> dict[str, jinja2.Environment]:
    """One Jinja2 environment per language, with its catalogue installed (``_()`` and ``{% trans %}``)."""
    environments = {}
    for lang in i18n.LANGUAGES:
        env = jinja2.Environment(loader=jinja2.PackageLoader("icam.web", "templates"), autoescape=True,
                                 extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined)
        env.install_gettext_translations(i18n.translations(lang), newstyle=True)
        env.filters["num"] = lambda value, digits=0, _lang=lang: i18n.number(value, _lang, digits)
        env.filters["day"] = lambda value, _lang=lang: i18n.date(value, _lang)
        env.filters["when"] = lambda value, _lang=lang: i18n.datetime(value, _lang)
        environments[lang] = env
    return environments


def create_app(project_dir: Path | str, url: str | None = None) -> FastAPI:
    """The app over the project in ``project_dir`` (its database: ``url``, else $ICAM_DATABASE_URL, else the
    project's SQLite file, created where missing)."""
    project_dir = Path(project_dir).resolve()
    engine = open_engine(project_dir, url, create=True)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        engine.dispose()

    app = FastAPI(lifespan=lifespan, title="icam", version=__version__, openapi_url="/api/v1/openapi.json",
                  docs_url="/api/v1/docs", redoc_url=None, description=API_DESCRIPTION)
    app.state.project_dir = project_dir
    app.state.engine = engine
    app.state.templates = _environments()
    app.state.login_limiter = LoginLimiter()
    static = resources.files("icam.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(pages_field.router)
    _middleware(app)
    _handlers(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        """Alive, and the database answers."""
        with app.state.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return {"status": "ok", "version": __version__}

    return app


def _middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def language_and_headers(request: Request, call_next) -> Response:
        choice = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        request.state.lang = i18n.negotiate(request.headers.get("accept-language"), choice)
        response = await call_next(request)
        if request.query_params.get("lang") in i18n.LANGUAGES:
            response.set_cookie(LANG_COOKIE, request.state.lang, max_age=365 * 86400, samesite="lax", httponly=True)
        response.headers.setdefault("Content-Language", request.state.lang)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = CSP
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # pages hold personal data: no copy in shared caches
        return response


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return pages.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "problem": e.get("msg", "")}
                    for e in exc.errors()]
        message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems) or "the request is not valid"
        if _is_api(request):
            return JSONResponse({"detail": message, "errors": problems}, status_code=422)
        return pages.error_page(request, 422, message)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        # no traceback or internals to the client (ASVS 7.4.1); the server's log keeps them
        if _is_api(request):
            return JSONResponse({"detail": "internal error"}, status_code=500)
        return HTMLResponse("internal error", status_code=500)


__all__ = ["CSP", "create_app"]
