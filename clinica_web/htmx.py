"""HTMX helpers: one URL, two renderings (a partial for htmx, the full page otherwise)."""
from urllib.parse import parse_qs, urlsplit

from flask import redirect, render_template, request


def is_htmx() -> bool:
    # A history restore (back button after the cache expired) needs the full page.
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def current_page_args() -> dict[str, str] | None:
    """The query arguments of the page htmx asks from (its HX-Current-URL header; the first value
    of each), or None when it says none: not an htmx request, or an address that does not parse
    (the header is the client's to write)."""
    address = request.headers.get("HX-Current-URL")
    if not address:
        return None
    try:
        return {name: found[0] for name, found in parse_qs(urlsplit(address).query).items()}
    except ValueError:
        return None


def redirect_whole_page(location: str):
    """Send the browser to another page: a 303, or for htmx an HX-Redirect (a 303 would be
    followed by htmx itself, and the whole page swapped into the part asked for)."""
    if is_htmx():
        return "", 200, {"HX-Redirect": location}
    return redirect(location, code=303)


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
