"""The web pages (Jinja2 templates, one base with the navigation and the disclaimer), their
static files, Plotly and Swagger UI — every asset served from this server, none from a CDN."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from ketasim import DISCLAIMER
from ketasim.api.routers.model import page_vocabulary

PAGES = (
    ("/", "Explore", "explore.html.j2"),
    ("/how", "How it works", "how.html.j2"),
    ("/plan", "Plan a patient", "plan.html.j2"),
    ("/trial", "Virtual trial", "trial.html.j2"),
    ("/validation", "Validation", "validation.html.j2"),
)
WEB_STATIC = resources.files("ketasim") / "web" / "static"
_ENV = Environment(loader=PackageLoader("ketasim", "web/templates"), autoescape=True, undefined=StrictUndefined)


def _vendor() -> dict[str, Path]:
    import fastapi_offline
    import plotly

    swagger = Path(fastapi_offline.__file__).parent / "static"
    return {
        "plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
        "swagger-ui-bundle.js": swagger / "swagger-ui-bundle.js",
        "swagger-ui.css": swagger / "swagger-ui.css",
        "favicon.png": swagger / "favicon.png",
    }


def router() -> APIRouter:
    """The pages, rendered once (they hold no per-request data)."""
    r = APIRouter(include_in_schema=False)
    nav = [(href, name) for href, name, _ in PAGES]
    vocabulary = page_vocabulary()
    for href, _name, template in PAGES:
        html = _ENV.get_template(template).render(pages=nav, here=href, disclaimer=DISCLAIMER, vocabulary=vocabulary)

        def page(html: str = html) -> HTMLResponse:
            return HTMLResponse(html)

        r.add_api_route(href, page, methods=["GET"], response_class=HTMLResponse)
    docs = _ENV.get_template("docs.html.j2").render(disclaimer=DISCLAIMER)

    @r.get("/docs", response_class=HTMLResponse)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(docs)

    vendor = _vendor()
    media = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}

    @r.get("/static/vendor/{name}")
    def vendored(name: str) -> FileResponse:
        from fastapi import HTTPException

        if name not in vendor:
            raise HTTPException(404, f"no vendored file {name!r}")
        return FileResponse(vendor[name], media_type=media[vendor[name].suffix])

    return r
