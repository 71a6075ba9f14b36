from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from clinica_web import i18n, mail
from clinica_web.blueprints.auth import bp
from clinica_web.blueprints.auth.forms import LoginForm, RegisterForm, ResetPasswordForm, ResetRequestForm
from clinica_web.blueprints.roles import home_endpoint
from clinica_web.extensions import limiter, login_manager
from clinica_web.forms import EmptyForm, add_domain_error
from clinica_web.security import is_local_path, login_email_key
from clinica_web.services import accounts, clinic, sessions
from clinica_web.services.errors import DomainError

SESSION_KEY = "login"  # the session cookie's token of its login (services/sessions.py)


@login_manager.user_loader
def load_user(user_id):
    """The user of this session, if its login has not ended (logout, password reset elsewhere)."""
    return sessions.user_for(user_id, session.get(SESSION_KEY))


def _sign_in(user) -> bool:
    """A new login gets a session of its own: what the browser's session held before (another
    login, a CSRF token someone else planted) is ended and dropped first. False, and nobody signed
    in, if the password was reset since it was checked (sessions.start)."""
    now = clinic.now()
    checked_version = user.session_version  # as read with the password: ending the old session reloads the user
    sessions.end(session.get(SESSION_KEY), now=now)
    session.clear()
    try:
        token = sessions.start(user, checked_version=checked_version, now=now)
    except DomainError:
        return False
    login_user(user)
    session[SESSION_KEY] = token
    return True


def _sign_out():
    sessions.end(session.pop(SESSION_KEY, None), now=clinic.now())
    logout_user()


def _safe_next(default="pages.home"):
    """Where to go after logging in: a path on this site, never another host (default: None)."""
    target = request.args.get("next", "")
    if is_local_path(target) and not urlsplit(target).netloc:
        return target
    return url_for(default) if default else None


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def register():
    """Create an account. The answer is the same whether or not the email is already in use:
    "check your email" (the welcome email signs the new patient in)."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        next_page = _safe_next(default=None)
        try:
            accounts.register_patient(
                email=form.email.data, password=form.password.data, full_name=form.full_name.data,
                phone=form.phone.data, language=i18n.language(), now=clinic.now(),
                make_link=lambda token: mail.link_to("auth.welcome", token=token, next=next_page),
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            # (The page's "log in" link goes on to the same page as the email's link.)
            return redirect(url_for("auth.registered", next=next_page), code=303)
    return render_template("auth/register.html", form=form), 422 if form.errors else 200


@bp.route("/register/sent")
def registered():
    return render_template("auth/registered.html", next_page=_safe_next(default=None))


@bp.route("/register/welcome/<token>")
def welcome(token):
    """The link in the welcome email: signs the new patient in and carries on where they were."""
    user = accounts.use_welcome_link(token, now=clinic.now())
    if user is None or not _sign_in(user):
        flash(_("This link has expired. Please log in with your email and password."), "info")
        return redirect(url_for("auth.login"))
    flash(_("Welcome! Your account is ready."), "success")
    return redirect(_safe_next())


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])  # per address
@limiter.limit("20 per hour", key_func=login_email_key, methods=["POST"])  # per account, from anywhere
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(home_endpoint(current_user)))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(email=form.email.data, password=form.password.data, now=clinic.now())
        except DomainError:
            user = None
        if user is not None and _sign_in(user):
            return redirect(_safe_next(home_endpoint(user)), code=303)
        form.form_errors.append(_("Wrong email or password (or the account is locked for a few minutes)."))
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if EmptyForm().validate_on_submit():
        _sign_out()
        flash(_("You are logged out."), "info")
    return redirect(url_for("pages.home"), code=303)


@bp.route("/password-reset", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
def password_reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_password_reset(email=form.email.data, now=clinic.now())
        # The same answer whether or not the account exists.
        flash(_("If an account uses that address, we have emailed it a link to choose a new password."), "info")
        return redirect(url_for("auth.login"), code=303)
    return render_template("auth/password_reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def password_reset(token):
    if accounts.user_for_reset_token(token) is None:
        return render_template("auth/password_reset_invalid.html"), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token=token, password=form.password.data, now=clinic.now())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            _sign_out()
            flash(_("Your password is changed. Please log in with the new one."), "success")
            return redirect(url_for("auth.login"), code=303)
    return render_template("auth/password_reset.html", form=form), 422 if form.errors else 200
