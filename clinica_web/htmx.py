"""HTMX helpers: one URL, two renderings (a partial for htmx, the full page otherwise)."""
from flask import render_template, request


def is_htmx() -> bool:
    # A history restore (back button after the cache expired) needs the full page.
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def render_page_or_partial(page: str, partial: str, **context) -> str:
    return render_template(partial if is_htmx() else page, **context)


def add_vary_header(response):
    """Caches must keep the page and the partial of one URL apart."""
    if "Vary" in response.headers:
        response.vary.add("HX-Request")
    else:
        response.headers["Vary"] = "HX-Request"  # the same, without parsing and writing back a header set
    return response


def init_app(app):
    app.after_request(add_vary_header)
