"""Accounts in the browser: register, log in and out, lockout, password reset, CSRF, cookies.

Every test goes through the pages as a user would and checks what that user sees (status,
redirect target, page text, the email they get), plus the database row where the promise is
about storage (lower-cased email, hashed password, failed-login counter).
"""
import html
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import User
from clinica_web.services import accounts
from clinica_web.services.errors import InvalidInput
from tests.conftest import PASSWORD, TEST_NOW

NEW_PASSWORD = "battery-staple-42"
LOGIN_ERROR = "Wrong email or password (or the account is locked for a few minutes)."
RESET_FLASH = "If an account uses that address, we have emailed it a link to choose a new password."
LINK_REFUSED = "This link no longer works"
CSRF_MESSAGE = "This form has expired"


# ---------------------------------------------------------------------------------------------
# Helpers


def text(response) -> str:
    """The page as a user reads it: HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def comparable(response, *values) -> str:
    """The page text without what legitimately differs between two requests (the CSRF token in
    the HTMX headers, the email the user typed), to compare two answers byte for byte."""
    page = re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', text(response))
    page = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', page)
    for value in values:
        page = page.replace(value, "EMAIL")
    return page


def local_target(response) -> str:
    """Where a redirect goes, asserting it stays on this site: the path and query."""
    assert response.status_code in (302, 303), response.status_code
    parts = urlsplit(response.headers["Location"])
    assert parts.scheme in ("", "http") and parts.netloc in ("", "clinica.test"), response.headers["Location"]
    return parts.path + (f"?{parts.query}" if parts.query else "")


def logged_in(client) -> bool:
    page = text(client.get("/"))
    assert ("Log out" in page) != ("Log in" in page)  # exactly one of the two is in the nav
    return "Log out" in page


def register(client, url="/register", **overrides):
    data = {"full_name": "Ana Torres", "email": "ana@example.com", "phone": "",
            "password": PASSWORD, "confirm": PASSWORD}
    data.update(overrides)
    return client.post(url, data=data)


def finish_registration(client, sent_mail):
    """Open the sign-in link of the newest welcome email, as the new patient would."""
    [link] = re.findall(r"https?://\S+/register/welcome/\S+", sent_mail()[-1].get_body(("plain",)).get_content())
    parts = urlsplit(link)
    return client.get(parts.path + (f"?{parts.query}" if parts.query else ""))


def users_with_email(app, email):
    with app.app_context():
        return db.session.scalars(select(User).where(func.lower(User.email) == email.lower())).all()


def user_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def get_user(app, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def set_locked_until(app, user_id, value):
    with app.app_context():
        db.session.get(User, user_id).locked_until = value
        db.session.commit()


def reset_path(message) -> str:
    """The reset link in an email's text part, as a path on this site."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    links = re.findall(r"https?://\S+", body)
    assert len(links) == 1, body
    parts = urlsplit(links[0])
    assert parts.netloc == "clinica.test"  # SERVER_NAME in the tests: an absolute link to this site
    assert parts.path.startswith("/password-reset/")
    return parts.path


def ask_for_reset(client, sent_mail, email="ana@example.com") -> str:
    before = len(sent_mail())
    response = client.post("/password-reset", data={"email": email})
    assert local_target(response) == "/login"
    mails = sent_mail()
    assert len(mails) == before + 1
    return reset_path(mails[-1])


def set_new_password(client, path, password=NEW_PASSWORD, confirm=None):
    return client.post(path, data={"password": password, "confirm": password if confirm is None else confirm})


# ---------------------------------------------------------------------------------------------
# Register


def test_register_page_shows_the_form(client):
    response = client.get("/register")
    assert response.status_code == 200
    page = text(response)
    for label in ("Full name", "Email", "Password", "Repeat password", "Create account"):
        assert label in page


def test_register_sends_a_welcome_link_that_signs_the_patient_in(app, client, sent_mail):
    assert not logged_in(client)
    response = register(client)
    assert response.status_code == 303
    assert local_target(response) == "/register/sent"
    assert "Check your email" in text(client.get("/register/sent"))
    assert not logged_in(client)
    [welcome] = sent_mail()
    assert welcome["To"] == "ana@example.com" and "Welcome" in welcome["Subject"]
    response = finish_registration(client, sent_mail)
    assert local_target(response) == "/"
    page = text(client.get("/"))
    assert "Welcome! Your account is ready." in page
    assert "Log out" in page
    assert len(users_with_email(app, "ana@example.com")) == 1


def test_the_check_your_email_page_s_log_in_link_goes_on_to_the_chosen_time(client):
    """Registering on the way to a time: the "log in" link beside "check your email" leads back to
    it too, as the email's link does."""
    chosen = "/doctors/3/book?date=2030-01-07&time=09:00&type=consultation"
    response = register(client, url="/register?" + urlencode({"next": chosen}))
    sent = client.get(local_target(response)).text
    login_link = re.search(r'<a href="(/login[^"]*)">log in</a>', sent)[1].replace("&amp;", "&")
    assert parse_qs(urlsplit(login_link).query)["next"] == [chosen]
    assert "next=" not in local_target(register(client, email="other@example.com"))


def test_register_stores_the_email_lower_cased_and_the_password_hashed(app, client):
    response = register(client, email="  Ana.Torres@Example.COM ", full_name="  Ana   Torres ", phone="+56 9 1234 5678")
    assert response.status_code == 303
    [user] = users_with_email(app, "ana.torres@example.com")
    assert user.email == "ana.torres@example.com"
    assert user.full_name == "Ana Torres"
    assert user.phone == "+56 9 1234 5678"
    assert user.role == "patient"
    assert PASSWORD not in user.password_hash
    assert user.check_password(PASSWORD)
    assert not user.check_password(PASSWORD.upper())


def test_registered_user_can_log_in_again_with_any_case_of_the_email(client):
    assert register(client, email="Ana@Example.com").status_code == 303
    client.post("/logout")
    assert not logged_in(client)
    assert client.post("/login", data={"email": "ANA@EXAMPLE.COM", "password": PASSWORD}).status_code == 303
    assert logged_in(client)


@pytest.mark.parametrize("email", ["ana@example.com", "ANA@EXAMPLE.COM", "Ana@Example.com", " ana@example.com "])
def test_register_with_a_used_email_looks_the_same_and_tells_the_owner(app, client, make_user, sent_mail, email):
    """No user enumeration: the page says "check your email" either way; the owner hears about it."""
    make_user(email="ana@example.com", full_name="Ana Original")
    new = register(app.test_client(), email="brand-new@example.com", full_name="Somebody New")
    used = register(client, email=email, full_name="Somebody Else")
    assert (used.status_code, used.headers["Location"]) == (new.status_code, new.headers["Location"])
    assert not logged_in(client)
    [user] = users_with_email(app, "ana@example.com")
    assert user.full_name == "Ana Original" and user.check_password(PASSWORD)
    notice = sent_mail()[-1]
    assert notice["To"] == "ana@example.com" and "already have an account" in notice["Subject"]
    assert "/register/welcome/" not in notice.get_body(("plain",)).get_content()  # no way in for the stranger


def test_welcome_link_tampered_or_for_a_deactivated_account_does_not_sign_in(app, client, sent_mail):
    register(client, email="eve@example.com")
    assert client.get("/register/welcome/not-a-token").headers["Location"].endswith("/login")
    with app.app_context():
        from clinica_web.extensions import db
        from clinica_web.models import User

        db.session.scalars(db.select(User).where(User.email == "eve@example.com")).one().active = False
        db.session.commit()
    finish_registration(client, sent_mail)
    assert not logged_in(client)


@pytest.mark.parametrize(("overrides", "message"), [
    pytest.param({"full_name": ""}, "This field is required.", id="missing-name"),
    pytest.param({"full_name": "   "}, "This field is required.", id="blank-name"),
    pytest.param({"email": ""}, "This field is required.", id="missing-email"),
    pytest.param({"email": "not-an-email"}, "Enter a valid email address", id="bad-email"),
    pytest.param({"email": "ana@example"}, "Enter a valid email address", id="email-without-domain"),
    pytest.param({"email": "ana@example.com\r\nBcc: x@evil.example"}, "Enter a valid email address",
                 id="email-with-crlf"),
    pytest.param({"password": "short-7", "confirm": "short-7"}, "Field must be between 8 and 200 characters long.",
                 id="short-password"),
    pytest.param({"password": "x" * 201, "confirm": "x" * 201}, "Field must be between 8 and 200 characters long.",
                 id="long-password"),
    pytest.param({"confirm": PASSWORD + "x"}, "The passwords differ.", id="mismatched-confirmation"),
    pytest.param({"confirm": ""}, "This field is required.", id="missing-confirmation"),
    pytest.param({"full_name": "A" * 10_000}, "Field cannot be longer than 120 characters.", id="10000-char-name"),
    pytest.param({"full_name": "Ana\r\nBcc: x@evil.example"}, "A name has at most 120 printable characters",
                 id="name-with-crlf"),
    pytest.param({"full_name": "Ana\nTorres"}, "A name has at most 120 printable characters", id="name-with-lf"),
    pytest.param({"full_name": "Ana\tTorres"}, "A name has at most 120 printable characters", id="name-with-tab"),
    pytest.param({"full_name": "Ana\x1b[31mTorres"}, "A name has at most 120 printable characters",
                 id="name-with-escape"),
    pytest.param({"full_name": "Ana\u2028Torres"}, "A name has at most 120 printable characters",
                 id="name-with-line-separator"),
    pytest.param({"full_name": "Ana\u202eserroT"}, "A name has at most 120 printable characters",
                 id="name-with-bidi-override"),
])
def test_register_refuses_bad_input_with_a_message_and_creates_nothing(app, client, overrides, message):
    before = user_count(app)
    response = register(client, **overrides)
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert 'aria-invalid="true"' in page  # the message is tied to its field
    assert user_count(app) == before
    assert not logged_in(client)


def test_register_with_a_nul_anywhere_is_refused_and_creates_nothing(app, client):
    """NUL cannot be typed, only forged; every page refuses it before any view runs."""
    before = user_count(app)
    response = register(client, full_name="Ana\x00Torres")
    assert response.status_code == 400
    assert "Text must not contain NUL characters." in text(response)
    assert user_count(app) == before
    assert not logged_in(client)


@pytest.mark.parametrize(("typed", "stored"), [
    ("  Ana   Torres ", "Ana Torres"),
    ("Ana\u00a0Torres", "Ana Torres"),  # a pasted no-break space is just a space
    ("José Núñez O'Brien-Díaz", "José Núñez O'Brien-Díaz"),
    ("李小龍", "李小龍"),
    ("A" * 120, "A" * 120),
])
def test_register_accepts_real_names(app, client, typed, stored):
    assert register(client, full_name=typed).status_code == 303
    [user] = users_with_email(app, "ana@example.com")
    assert user.full_name == stored


def test_register_keeps_what_was_typed_except_the_passwords(client):
    response = register(client, confirm="something-else")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="Ana Torres"' in page and 'value="ana@example.com"' in page
    assert PASSWORD not in page and "something-else" not in page


def test_register_when_logged_in_goes_home(client, patient):
    response = client.get("/register")
    assert local_target(response) == "/"


# ---------------------------------------------------------------------------------------------
# Log in


def test_login_with_the_right_password_logs_in_and_redirects(client, auth, make_user):
    make_user(email="ana@example.com", full_name="Ana Torres")
    response = auth.login("ana@example.com")
    assert response.status_code == 303
    assert local_target(response) == "/"
    assert logged_in(client)
    assert "Ana Torres" in text(client.get("/"))


def test_wrong_password_and_unknown_email_look_the_same(client, auth, make_user):
    make_user(email="ana@example.com")
    wrong_password = auth.login("ana@example.com", "not-the-password")
    unknown_email = auth.login("nobody@example.com", "not-the-password")
    assert wrong_password.status_code == unknown_email.status_code == 422
    assert LOGIN_ERROR in text(wrong_password)
    assert comparable(wrong_password, "ana@example.com") == comparable(unknown_email, "nobody@example.com")
    assert "not-the-password" not in wrong_password.get_data(as_text=True)
    assert not logged_in(client)


def test_the_service_gives_one_answer_for_every_failed_login(app, make_user):
    """The JSON API shows the service's message, so it too must not tell the cases apart."""
    user_id = make_user(email="ana@example.com")
    set_locked_until(app, make_user(email="locked@example.com"), TEST_NOW + timedelta(minutes=5))
    with app.app_context():
        db.session.get(User, make_user(email="off@example.com")).active = False
        db.session.commit()
    attempts = [("ana@example.com", "not-the-password"), ("nobody@example.com", "not-the-password"),
                ("locked@example.com", PASSWORD), ("off@example.com", PASSWORD), ("not an email", PASSWORD)]
    with app.app_context():
        for email, password in attempts:
            with pytest.raises(InvalidInput) as caught:
                accounts.authenticate(email=email, password=password, now=TEST_NOW)
            assert (caught.value.message, caught.value.field) == ("Invalid credentials", None), email
    assert get_user(app, user_id).failed_logins == 1


def test_an_inactive_account_cannot_log_in(app, client, auth, make_user):
    user_id = make_user(email="ana@example.com")
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    response = auth.login("ana@example.com")
    assert response.status_code == 422
    assert LOGIN_ERROR in text(response)
    assert not logged_in(client)


@pytest.mark.parametrize("form", ["/login", "/register"])
@pytest.mark.parametrize("next_url", ["/bookings", "/doctors?specialty=Pediatrics"])
def test_next_to_a_local_page_is_honoured(client, make_user, sent_mail, form, next_url):
    make_user(email="ana@example.com")
    query = {"next": next_url}
    if form == "/login":
        response = client.post("/login", query_string=query, data={"email": "ana@example.com", "password": PASSWORD})
        assert response.status_code == 303
    else:  # the welcome link carries `next`
        assert register(client, url=f"/register?{urlencode(query)}", email="new@example.com").status_code == 303
        response = finish_registration(client, sent_mail)
    assert local_target(response) == next_url


@pytest.mark.parametrize("form", ["/login", "/register"])
@pytest.mark.parametrize("next_url", [
    "https://evil.example",
    "https://evil.example/login",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",      # browsers read a backslash as a slash: //evil.example
    "/\\/evil.example",
    "\\\\evil.example",
    "/\t/evil.example",     # browsers drop tabs and newlines from URLs
    "https:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/\r\nX: 1",           # a header of our own in the redirect: a 500 once, after logging in
    "/bookings\nSet-Cookie: a=b",
    "/\x7f",
    "/\x1b[31m",
])
def test_next_to_another_site_is_not_followed(client, make_user, sent_mail, form, next_url):
    make_user(email="ana@example.com")
    query = {"next": next_url}
    if form == "/login":
        response = client.post("/login", query_string=query, data={"email": "ana@example.com", "password": PASSWORD})
        assert response.status_code == 303
    else:
        assert register(client, url=f"/register?{urlencode(query)}", email="new@example.com").status_code == 303
        response = finish_registration(client, sent_mail)
    assert response.headers["Location"] in ("/", "http://clinica.test/")
    assert logged_in(client)
    # Once logged in, the login page sends you on: not there either.
    assert client.get("/login", query_string=query).headers["Location"] in ("/", "http://clinica.test/")


def test_a_page_that_needs_login_sends_you_back_after_logging_in(client, make_user):
    make_user(email="ana@example.com")
    response = client.get("/bookings")
    login_url = local_target(response)
    assert login_url == "/login?next=%2Fbookings"
    assert "Please log in to continue." in text(client.get(login_url))
    response = client.post(login_url, data={"email": "ana@example.com", "password": PASSWORD})
    assert local_target(response) == "/bookings"
    assert client.get("/bookings").status_code == 200


# ---------------------------------------------------------------------------------------------
# Lockout after failed logins


def test_five_failed_logins_lock_the_account_even_for_the_right_password(app, client, auth, make_user):
    user_id = make_user(email="ana@example.com")
    for attempt in range(4):
        assert auth.login("ana@example.com", f"wrong-password-{attempt}").status_code == 422
    assert get_user(app, user_id).failed_logins == 4
    assert get_user(app, user_id).locked_until is None
    assert auth.login("ana@example.com", "wrong-password-5").status_code == 422

    locked_until = get_user(app, user_id).locked_until
    assert locked_until == TEST_NOW + timedelta(minutes=15)

    response = auth.login("ana@example.com")  # the right password, while locked
    assert response.status_code == 422
    assert LOGIN_ERROR in text(response)
    assert not logged_in(client)
    # The lock does not move while it lasts: attempts during it are not counted.
    assert get_user(app, user_id).locked_until == locked_until


def test_the_lock_ends_after_its_time(app, client, auth, make_user):
    user_id = make_user(email="ana@example.com")
    for attempt in range(5):
        auth.login("ana@example.com", f"wrong-password-{attempt}")
    assert auth.login("ana@example.com").status_code == 422
    # Fifteen minutes later (the lock's end moved into the past):
    set_locked_until(app, user_id, TEST_NOW - timedelta(seconds=1))
    assert auth.login("ana@example.com").status_code == 303
    assert logged_in(client)
    user = get_user(app, user_id)
    assert user.locked_until is None and user.failed_logins == 0


def test_the_lock_lasts_exactly_fifteen_minutes(app, make_user):
    """Service level, with the clock passed in: locked at 14:59 after the fifth failure, open at 15:00."""
    make_user(email="ana@example.com")
    t0 = datetime(2030, 3, 4, 12, 0, tzinfo=timezone.utc)
    with app.app_context():
        for _ in range(5):
            with pytest.raises(InvalidInput, match="Invalid credentials"):
                accounts.authenticate(email="ana@example.com", password="wrong-password", now=t0)
        with pytest.raises(InvalidInput, match="Invalid credentials"):
            accounts.authenticate(email="ana@example.com", password=PASSWORD,
                                  now=t0 + timedelta(minutes=14, seconds=59))
        user = accounts.authenticate(email="ana@example.com", password=PASSWORD, now=t0 + timedelta(minutes=15))
        assert user.email == "ana@example.com"


def test_a_successful_login_resets_the_failure_counter(app, client, auth, make_user):
    user_id = make_user(email="ana@example.com")
    for attempt in range(4):
        auth.login("ana@example.com", f"wrong-password-{attempt}")
    assert auth.login("ana@example.com").status_code == 303
    assert get_user(app, user_id).failed_logins == 0
    auth.logout()
    for attempt in range(4):
        assert auth.login("ana@example.com", f"wrong-password-{attempt}").status_code == 422
    assert auth.login("ana@example.com").status_code == 303  # 4 + 4 failures, but never 5 in a row
    assert logged_in(client)


def test_unknown_emails_lock_nobody(app, auth, make_user):
    user_id = make_user(email="ana@example.com")
    for _ in range(6):
        auth.login("nobody@example.com", "wrong-password")
    assert get_user(app, user_id).failed_logins == 0
    assert auth.login("ana@example.com").status_code == 303


# ---------------------------------------------------------------------------------------------
# Log out


def test_logout_by_get_is_not_allowed(client, patient):
    response = client.get("/logout")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}  # what the address takes
    assert "Method not allowed" in response.text
    assert logged_in(client)


def test_logout_by_post_logs_out(client, patient):
    response = client.post("/logout")
    assert local_target(response) == "/"
    page = text(client.get("/"))
    assert "You are logged out." in page
    assert not logged_in(client)
    assert local_target(client.get("/bookings")).startswith("/login")


# ---------------------------------------------------------------------------------------------
# Password reset


def test_reset_request_looks_the_same_for_known_and_unknown_emails(client, make_user, sent_mail):
    make_user(email="ana@example.com")
    page = client.get("/password-reset")
    assert page.status_code == 200 and "Reset your password" in text(page)

    known = client.post("/password-reset", data={"email": "ana@example.com"})
    known_page = client.get(known.headers["Location"])
    unknown = client.post("/password-reset", data={"email": "nobody@example.com"})
    unknown_page = client.get(unknown.headers["Location"])

    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert local_target(known) == "/login"
    assert RESET_FLASH in text(known_page)
    assert comparable(known_page) == comparable(unknown_page)

    [message] = sent_mail()  # only the existing account got an email
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Reset your Clinica password"


@pytest.mark.parametrize("email", ["not-an-email", "nobody@example"])
def test_reset_request_for_a_malformed_address_says_the_same_and_sends_nothing(client, sent_mail, email):
    response = client.post("/password-reset", data={"email": email})
    assert local_target(response) == "/login"
    assert RESET_FLASH in text(client.get("/login"))
    assert sent_mail() == []


def test_reset_by_emailed_link_changes_the_password(client, auth, make_user, sent_mail):
    make_user(email="ana@example.com")
    path = ask_for_reset(client, sent_mail)
    body = sent_mail()[-1].get_body(preferencelist=("plain",)).get_content()
    assert "60 minutes" in body  # PASSWORD_RESET_MAX_AGE, as the user reads it

    form = client.get(path)
    assert form.status_code == 200
    assert "Choose a new password" in text(form)

    response = set_new_password(client, path)
    assert local_target(response) == "/login"
    assert "Your password is changed. Please log in with the new one." in text(client.get("/login"))

    assert auth.login("ana@example.com", PASSWORD).status_code == 422
    assert auth.login("ana@example.com", NEW_PASSWORD).status_code == 303
    assert logged_in(client)


def test_a_reset_link_works_once(client, auth, make_user, sent_mail):
    make_user(email="ana@example.com")
    path = ask_for_reset(client, sent_mail)
    assert set_new_password(client, path).status_code == 303

    again = client.get(path)
    assert again.status_code == 400
    assert LINK_REFUSED in text(again)
    again = set_new_password(client, path, password="third-password-3")
    assert again.status_code == 400
    assert LINK_REFUSED in text(again)

    assert auth.login("ana@example.com", "third-password-3").status_code == 422
    assert auth.login("ana@example.com", NEW_PASSWORD).status_code == 303


def test_using_a_newer_link_retires_the_older_one(client, auth, make_user, sent_mail):
    make_user(email="ana@example.com")
    older = ask_for_reset(client, sent_mail)
    newer = ask_for_reset(client, sent_mail)
    assert set_new_password(client, newer).status_code == 303
    assert client.get(older).status_code == 400
    assert set_new_password(client, older, password="third-password-3").status_code == 400
    assert auth.login("ana@example.com", NEW_PASSWORD).status_code == 303


def _tampered(path):
    prefix, token = path.rsplit("/", 1)
    position = len(token) // 3  # inside the payload, before the signature
    replacement = "A" if token[position] != "A" else "B"
    return f"{prefix}/{token[:position]}{replacement}{token[position + 1:]}"


@pytest.mark.parametrize("tamper", [
    pytest.param(_tampered, id="changed-character"),
    pytest.param(lambda path: path[:-3], id="truncated"),
    pytest.param(lambda path: path.rsplit("/", 1)[0] + "/not-a-token", id="garbage"),
])
def test_a_tampered_reset_link_is_refused(client, auth, make_user, sent_mail, tamper):
    make_user(email="ana@example.com")
    path = tamper(ask_for_reset(client, sent_mail))
    response = client.get(path)
    assert response.status_code == 400
    assert LINK_REFUSED in text(response)
    assert set_new_password(client, path).status_code == 400
    assert auth.login("ana@example.com", NEW_PASSWORD).status_code == 422
    assert auth.login("ana@example.com", PASSWORD).status_code == 303


@pytest.mark.parametrize(("age_minutes", "works"), [(59, True), (61, False), (60 * 24 * 30, False)])
def test_a_reset_link_expires_after_an_hour(client, auth, make_user, sent_mail, clock, age_minutes, works):
    """The link was asked for (and signed) `age_minutes` ago, on the app's clock."""
    make_user(email="ana@example.com")
    clock.set(TEST_NOW - timedelta(minutes=age_minutes))
    path = ask_for_reset(client, sent_mail)
    clock.set(TEST_NOW)

    response = client.get(path)
    if works:
        assert response.status_code == 200
        assert set_new_password(client, path).status_code == 303
        assert auth.login("ana@example.com", NEW_PASSWORD).status_code == 303
    else:
        assert response.status_code == 400
        assert LINK_REFUSED in text(response)
        assert set_new_password(client, path).status_code == 400
        assert auth.login("ana@example.com", NEW_PASSWORD).status_code == 422


@pytest.mark.parametrize(("password", "confirm", "message"), [
    (NEW_PASSWORD, NEW_PASSWORD + "x", "The passwords differ."),
    ("short-7", "short-7", "Field must be between 8 and 200 characters long."),
    ("", "", "This field is required."),
])
def test_a_bad_new_password_is_refused_and_the_link_still_works(client, auth, make_user, sent_mail,
                                                                password, confirm, message):
    make_user(email="ana@example.com")
    path = ask_for_reset(client, sent_mail)
    response = set_new_password(client, path, password=password, confirm=confirm)
    assert response.status_code == 422
    assert message in text(response)
    assert auth.login("ana@example.com", PASSWORD).status_code == 303  # unchanged
    auth.logout()
    assert set_new_password(client, path).status_code == 303


def test_a_password_reset_unlocks_a_locked_account(client, auth, make_user, sent_mail):
    make_user(email="ana@example.com")
    for attempt in range(5):
        auth.login("ana@example.com", f"wrong-password-{attempt}")
    assert auth.login("ana@example.com").status_code == 422  # locked
    path = ask_for_reset(client, sent_mail)
    assert set_new_password(client, path).status_code == 303
    assert auth.login("ana@example.com", NEW_PASSWORD).status_code == 303


# ---------------------------------------------------------------------------------------------
# CSRF (on in production, off in the other tests) and cookies


# Parametrizing `app_config` builds the test's `app` with that config (see conftest).
CSRF_ON = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], ids=["csrf-on"])


def add_user(app, email="ana@example.com"):
    with app.app_context():
        user = User(email=email, full_name="Ana Torres")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user.id


def csrf_token_from(response) -> str:
    inputs = re.findall(r'<input[^>]*name="csrf_token"[^>]*>', response.get_data(as_text=True))
    assert len(inputs) >= 1
    assert 'type="hidden"' in inputs[0]
    token = re.search(r'value="([^"]+)"', inputs[0])
    assert token is not None
    return token.group(1)


@CSRF_ON
@pytest.mark.parametrize("page", ["/login", "/register", "/password-reset"])
def test_forms_carry_a_hidden_csrf_token(app, page):
    response = app.test_client().get(page)
    assert response.status_code == 200
    assert len(csrf_token_from(response)) > 20


@CSRF_ON
def test_login_without_the_csrf_token_is_refused(app):
    client = app.test_client()
    add_user(app)
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 400
    page = text(response)
    assert CSRF_MESSAGE in page and "reload the page and try again" in page
    assert not logged_in(client)

    token = csrf_token_from(client.get("/login"))
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    assert logged_in(client)


@CSRF_ON
def test_a_forged_csrf_token_is_refused(app):
    client = app.test_client()
    add_user(app)
    client.get("/login")
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD,
                                           "csrf_token": "IjAxMjM0NTY3ODkwMTIzNDU2Nzg5Ig.forged.token"})
    assert response.status_code == 400
    assert CSRF_MESSAGE in text(response)
    assert not logged_in(client)


@CSRF_ON
def test_register_and_reset_request_without_the_csrf_token_change_nothing(app, sent_mail):
    client = app.test_client()
    add_user(app)
    response = register(client, email="new@example.com")
    assert response.status_code == 400
    assert CSRF_MESSAGE in text(response)
    assert users_with_email(app, "new@example.com") == []

    response = client.post("/password-reset", data={"email": "ana@example.com"})
    assert response.status_code == 400
    assert sent_mail() == []


@CSRF_ON
def test_logout_without_the_csrf_token_is_refused(app):
    client = app.test_client()
    add_user(app)
    token = csrf_token_from(client.get("/login"))
    client.post("/login", data={"email": "ana@example.com", "password": PASSWORD, "csrf_token": token})
    assert logged_in(client)

    response = client.post("/logout")
    assert response.status_code == 400
    assert logged_in(client)

    home = client.get("/")
    assert local_target(client.post("/logout", data={"csrf_token": csrf_token_from(home)})) == "/"
    assert not logged_in(client)


def test_the_session_cookie_is_httponly_and_samesite_lax(client, make_user):
    make_user(email="ana@example.com")
    response = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 303
    [cookie] = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert not any(value.startswith("remember_token=") for value in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}], ids=["limits-on"])
def test_login_is_rate_limited(client):
    """Ten attempts a minute from one address, then 429 (DESIGN 13: login rate-limited)."""
    statuses = [client.post("/login", data={"email": "nobody@example.com", "password": "wrong-password"}).status_code
                for _ in range(11)]
    assert statuses == [422] * 10 + [429]
    response = client.post("/login", data={"email": "nobody@example.com", "password": "wrong-password"})
    assert response.status_code == 429
    assert "Too many attempts" in text(response)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}], ids=["limits-on"])
def test_one_account_is_rate_limited_across_addresses(app):
    """20 attempts an hour on one account, whichever address they come from; others are unaffected."""
    statuses = []
    for attempt in range(21):
        client = app.test_client()
        statuses.append(client.post("/login", data={"email": "Target@Example.com", "password": "wrong-password"},
                                    environ_base={"REMOTE_ADDR": f"10.0.{attempt}.1"}).status_code)
    assert statuses == [422] * 20 + [429]
    other = app.test_client().post("/login", data={"email": "someone@example.com", "password": "wrong-password"},
                                   environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 422


def test_the_demo_clinics_test_domain_is_an_email_address_like_any_other(app, client, auth, make_user, sent_mail):
    """Every demo account is on the reserved .test domain: registration, password reset and login
    take it like any other address (email_validator refuses special-use domains by default)."""
    make_user(email="ana@clinica.test")
    path = ask_for_reset(client, sent_mail, email="Ana@Clinica.test")
    assert sent_mail()[-1]["To"] == "ana@clinica.test"
    assert local_target(set_new_password(client, path)) == "/login"
    assert auth.login("ana@clinica.test", NEW_PASSWORD).status_code == 303
    client.post("/logout")
    assert register(client, email="new@clinica.test").status_code == 303
    assert sent_mail()[-1]["To"] == "new@clinica.test"
