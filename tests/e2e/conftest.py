"""End-to-end tests: the app served by gunicorn on 127.0.0.1, driven by headless Chromium.

Debian's chromium is driven through Playwright with `executable_path` (Playwright's own browser
download is not used). Without chromium these tests skip locally; in CI (CI=true) they fail.
Screenshots land in test-artifacts/screenshots/.
"""
import email.policy
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT / "test-artifacts" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
DEMO_PASSWORD = "demo-pass-123"
PHONE, DESK = {"width": 390, "height": 844}, {"width": 1280, "height": 900}


def _require_browser():
    missing = not Path(CHROMIUM).exists() or shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Browser tests need {CHROMIUM}, gunicorn and playwright; .ci/run installs them")
        pytest.skip(f"Browser tests need {CHROMIUM} and playwright")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The demo clinic on a fresh SQLite database, served by gunicorn, with the background worker
    sending its emails, as in production. Yields (base URL, env)."""
    _require_browser()
    folder = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'e2e.sqlite'}",
        "MAIL_FILE_DIR": str(folder / "mail"),
        "SECRET_KEY": "e2e-secret-key-at-least-32-characters",
        "RATELIMIT_ENABLED": "false",
        "FLASK_APP": "wsgi",
        "WORKER_INTERVAL_SECONDS": "0.3",
        "SITE_URL": f"http://127.0.0.1:{port}",  # the links in emails
    }
    env.pop("MAIL_SERVER", None)
    flask = [sys.executable, "-m", "flask"]
    for command in (["init-db"], ["seed-demo"]):
        subprocess.run(flask + command, cwd=PROJECT, env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(flask + ["worker"], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("gunicorn did not start")
    yield base, env
    for running in (process, worker):
        running.terminate()
        running.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, server):
    """new_page(viewport=DESK, javascript=True) -> a page in a fresh browser context."""
    contexts = []

    def make(viewport=DESK, javascript=True):
        context = browser.new_context(viewport=viewport, java_script_enabled=javascript, base_url=server[0])
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@contextmanager
def writing_to_the_server_database(server, **config):
    """An app context on the served database, inside a write transaction taken up front (BEGIN
    IMMEDIATE): the server and its worker write to the same SQLite file, and a transaction that
    reads first and writes later fails at once ("database is locked") if they wrote in between."""
    from clinica_web import create_app
    from clinica_web.database import begin_write
    from clinica_web.extensions import db

    env = server[1]
    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "SECRET_KEY": env["SECRET_KEY"],
                      "MAIL_FILE_DIR": env["MAIL_FILE_DIR"], "SITE_URL": env["SITE_URL"], **config})
    with app.app_context():
        begin_write()
        try:
            yield
        finally:
            db.session.rollback()
            db.engine.dispose()


def welcome_link(server, address):
    """The sign-in link of the newest welcome email to `address`."""
    return emailed_link(server, address, "/register/welcome/")


def emailed_link(server, address, path):
    """The link to `path`... of the newest email to `address` holding one (development mail is
    written to files), once the worker has sent it (it looks every 0.3 s here)."""
    folder = Path(server[1]["MAIL_FILE_DIR"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for path_of_mail in sorted(folder.glob("*.eml"), reverse=True):
            message = message_from_bytes(path_of_mail.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                found = re.search(rf"https?://\S+{re.escape(path)}\S+", message.get_body(("plain",)).get_content())
                if found:
                    return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no email to {address} with a link to {path}")


def login(page, email, password=DEMO_PASSWORD):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def focus_settles_on(page, element_id, seconds=5) -> bool:
    """Whether the keyboard focus is on the element `element_id` within `seconds` (htmx moves it as
    the swap settles, a moment after the new content is shown). Polled from here: the pages'
    Content-Security-Policy forbids the evaluated code wait_for_function would run."""
    deadline = time.monotonic() + seconds
    while page.evaluate("document.activeElement.id") != element_id:
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(50)
    return True


def screenshot(page, name):
    page.wait_for_load_state("load")  # the stylesheet applied, not the page as it is being built
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


def axe_violations(page):
    """Run axe-core in the page; returns the violations (WCAG 2.x A and AA rules and best practices)."""
    # Evaluated through the DevTools protocol: the page's CSP (rightly) refuses inline <script> tags.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [node["target"] for node in v["nodes"]][:5]}
        for v in result["violations"]
    ]
