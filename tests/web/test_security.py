"""Security headers on every response, and pages that a strict CSP can serve."""
import io
import re

from tests.conftest import next_weekday

PAGES = ["/", "/doctors", "/login", "/register", "/password-reset", "/doctors/999999"]


def test_every_page_sends_the_security_headers(client, make_doctor):
    doctor_id = make_doctor()
    for url in PAGES + [f"/doctors/{doctor_id}", "/v1/doctors", "/v1/openapi.json"]:
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, url
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_scripts_or_styles(client, make_doctor, patient):
    """The CSP forbids them, so none may be in the markup (they would silently not work)."""
    doctor_id = make_doctor()
    monday = next_weekday(0, weeks=1)
    for url in PAGES + [f"/doctors/{doctor_id}?date={monday}", "/bookings",
                        f"/doctors/{doctor_id}/book?date={monday}&time=09:00&type=consultation"]:
        html = client.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url  # no inline event handlers either


def test_patient_data_is_never_cached(client, make_doctor, patient):
    for url in ("/bookings", "/"):
        response = client.get(url)
        assert response.headers["Cache-Control"] == "no-store"
        assert "Cookie" in response.headers["Vary"]


def test_public_pages_logged_out_may_be_cached(client):
    assert "no-store" not in client.get("/doctors").headers.get("Cache-Control", "")


def test_api_responses_with_credentials_are_not_cached(client):
    response = client.post("/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever-123"})
    assert response.headers["Cache-Control"] == "no-store"


def test_production_refuses_a_missing_or_short_secret_key(monkeypatch, database_url, tmp_path):
    import pytest

    from clinica_web import create_app
    from tests.conftest import base_config

    monkeypatch.setenv("CLINICA_CONFIG", "production")
    for secret in (None, "too-short"):
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app({**base_config(database_url, tmp_path), "SECRET_KEY": secret})


def test_production_refuses_to_start_without_the_sites_address(monkeypatch, database_url, tmp_path):
    """Emails link to SITE_URL; production has no default for it (localhost links would not work)."""
    import pytest

    from clinica_web import create_app
    from tests.conftest import base_config

    monkeypatch.setenv("CLINICA_CONFIG", "production")
    for site_url in (None, "", "clinic.example", "https://clinic.example/path", "javascript:alert(1)"):
        with pytest.raises(RuntimeError, match="SITE_URL"):
            create_app({**base_config(database_url, tmp_path), "SITE_URL": site_url})


def test_production_session_cookie_is_secure_httponly_samesite(monkeypatch, database_url, tmp_path):
    from clinica_web import create_app
    from clinica_web.extensions import db
    from tests.conftest import base_config

    monkeypatch.setenv("CLINICA_CONFIG", "production")
    app = create_app(base_config(database_url, tmp_path))
    cookie = app.test_client().get("/login").headers["Set-Cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    with app.app_context():
        db.engine.dispose()


def test_bodies_over_a_megabyte_are_refused_before_they_are_read(client, make_doctor):
    """413 for any body over 1 MB: JSON for the API, a page for the site; a login never looks at it."""
    huge = b"{" + b" " * (1024 * 1024) + b"}"
    api = client.post("/v1/auth/login", data=huge, content_type="application/json")
    assert api.status_code == 413 and api.json == {"error": "That request is larger than this site accepts."}
    page = client.post("/login", data={"email": "ana@example.com", "password": "x" * (1024 * 1024)})
    assert page.status_code == 413 and "Request too large" in page.text
    # Just under the limit is read as usual (and refused for what it says).
    small = client.post("/v1/auth/login", json={"email": "ana@example.com", "password": "x" * 1000})
    assert small.status_code == 400 and small.json == {"error": "Invalid credentials"}


def test_a_chunked_body_over_a_megabyte_is_refused_too(client, make_user):
    """A chunked body says no length beforehand: it is refused once reading passes the limit."""
    make_user(email="ana@example.com")
    huge = b'{"email": "ana@example.com", "password": "' + b"x" * (1024 * 1024) + b'"}'
    api = client.post("/v1/auth/login", input_stream=io.BytesIO(huge), content_type="application/json",
                      headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert api.status_code == 413 and api.json == {"error": "That request is larger than this site accepts."}
    small = b'{"email": "ana@example.com", "password": "wrong"}'
    api = client.post("/v1/auth/login", input_stream=io.BytesIO(small), content_type="application/json",
                      headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert api.status_code == 400 and api.json == {"error": "Invalid credentials"}
    # A body that says its length may be the limit exactly (only a longer one is refused, unread).
    exact = b'{"email": "ana@example.com", "password": "wrong"}'.ljust(1024 * 1024)
    api = client.post("/v1/auth/login", data=exact, content_type="application/json")
    assert api.status_code == 400 and api.json == {"error": "Invalid credentials"}


def test_links_in_emails_are_on_the_site_whatever_host_the_request_names(client, make_user, sent_mail):
    """The Host header is the sender's to choose: the emails a request causes link to SITE_URL."""
    make_user(email="ana@example.com")
    evil = {"Host": "evil.example"}
    data = {"full_name": "Ana Torres", "phone": "", "password": "correct-horse-9", "confirm": "correct-horse-9"}
    client.post("/register", data={**data, "email": "ana@example.com"}, headers=evil)  # exists: "log in" email
    client.post("/register", data={**data, "email": "new@example.com"}, headers=evil)  # welcome link
    client.post("/password-reset", data={"email": "ana@example.com"}, headers=evil)
    messages = sent_mail()
    assert len(messages) == 3
    for message in messages:
        for part in ("plain", "html"):
            body = message.get_body((part,)).get_content()
            links = re.findall(r"https?://[^\s\"<>]+", body)
            assert links and all(link.startswith("http://clinica.test/") for link in links), links
