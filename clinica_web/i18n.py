"""Languages: which one a page or an email is written in, and dates as people of that language read them.

Pages are in the reader's language: a logged-in user's saved one, else the one chosen with the
footer's switcher (a cookie), else the browser's Accept-Language, else DEFAULT_LOCALE. Emails are
in their recipient's language whoever triggered them (`for_recipient`). The JSON API is English
whatever the request says: its messages are a contract (DESIGN.md sections 6 and 10).

Catalogues live in clinica_web/translations (README: "Adding a language").
"""
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache

from babel.dates import format_date, format_datetime
from flask import current_app, g, has_request_context, request
from flask_babel import force_locale, get_locale, get_translations, gettext, refresh
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

# Language code -> its name in that language (the switcher shows each in its own language).
LANGUAGES = {"en": "English", "es": "Español"}
# The JSON APIs' blueprints (the booking API, the clinic API): English whatever the request says.
API_BLUEPRINTS = ("api", "clinic_api")
COOKIE = "language"
COOKIE_MAX_AGE = 365 * 24 * 3600

# Dates and times in each language: English keeps the shapes the product always had
# ("Monday 07 December 2026", "Mon 07 Dec 2026, 09:30"); Spanish reads "lunes 7 de diciembre de 2026".
PATTERNS = {
    "en": {"long_date": "EEEE dd MMMM yyyy", "short_date": "EEE dd MMM yyyy", "short_day": "EEE dd MMM",
           "month": "MMMM yyyy", "weekday_time": "EEE dd MMM, HH:mm"},
    "es": {"long_date": "EEEE d 'de' MMMM 'de' yyyy", "short_date": "EEE d MMM yyyy", "short_day": "EEE d MMM",
           "month": "LLLL 'de' yyyy", "weekday_time": "EEE d MMM, HH:mm"},
}


def select_locale() -> str:
    """Flask-Babel's locale selector (once per request)."""
    default = current_app.config["DEFAULT_LOCALE"]
    if not has_request_context() or request.blueprint in API_BLUEPRINTS:
        return default
    saved = getattr(current_user, "language", None) if current_user else None
    if saved in LANGUAGES:
        return saved
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    addressee = g.get("addressee_language")  # a page an emailed link opened (for_addressee)
    if addressee in LANGUAGES:
        return addressee
    return _best_language(request.headers.get("Accept-Language", "")) or default


def for_addressee(user) -> None:
    """The page an emailed link opens (a reminder's Confirm, a waitlist offer) is written in the
    language of the patient it was sent to, as the email was, when they saved one; the language
    chosen on this browser, or of whoever is logged in, still comes first."""
    g.addressee_language = getattr(user, "language", None)
    refresh()  # Flask-Babel keeps the locale once a request has asked for it


@lru_cache(maxsize=256)
def _best_language(accept_language: str) -> str | None:
    """The language of ours a browser's Accept-Language prefers (browsers send few distinct ones:
    parsed once per worker, not on every request)."""
    return LanguageAccept(parse_accept_header(accept_language)).best_match(LANGUAGES)


def language() -> str:
    """The language being written in: the page's, or the email recipient's inside `for_recipient`."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "en"


@contextmanager
def for_recipient(user):
    """Render what is inside in `user`'s language (their saved one, else the clinic's default)."""
    chosen = getattr(user, "language", None)
    with force_locale(chosen if chosen in LANGUAGES else current_app.config["DEFAULT_LOCALE"]):
        yield


def N_(message: str) -> str:
    """Marks a message for `pybabel extract` (-k N_) where it is written, without translating it:
    a default message in a class, a module constant; it is translated where it is shown."""
    return message


class Word(str):
    """A value of a service message that is a word to translate in its turn (a status: "no show"):
    as is in the English message, translated by `error_text`. Mark its msgid with N_ too."""


class Day(date):
    """A value of a service message that is a date: ISO 8601 in the English message (what the
    APIs answer), a date as people read it by `error_text` (format_day's short_date)."""

    @classmethod
    def of(cls, day: date) -> "Day":
        return cls(day.year, day.month, day.day)


def error_text(error) -> str:
    """A service's DomainError in the current language: its message template translated, then
    its values filled in (a Word value translated too, a Day as people read it). The JSON API
    keeps `error.message`, the English text, whatever the request's language (DESIGN.md sections
    6 and 10)."""
    template = getattr(error, "template", None) or error.message
    if not template:
        return template  # gettext("") would be the catalogue's header
    values = {name: gettext(value) if isinstance(value, Word) else
              format_day(value, "short_date") if isinstance(value, Day) else value
              for name, value in (getattr(error, "values", None) or {}).items()}
    return gettext(template, **values) if values else gettext(template)


def _pattern(name):
    return PATTERNS[language()][name]


def format_day(day: date, style: str = "long_date") -> str:
    """A date in the current language: style long_date, short_date, short_day or month."""
    if isinstance(day, datetime):  # (its wall-clock day: an aware instant is no cache key, see below)
        day = day.date()
    return _formatted(day, _pattern(style), language())


def format_local_time(local: datetime, style: str) -> str:
    """A clinic-local wall-clock time (naive or aware; shown as it is) in the current language."""
    return _formatted(local.replace(tzinfo=None), _pattern(style), language())


@lru_cache(maxsize=4096)
def _formatted(value: date | datetime, pattern: str, locale: str) -> str:
    """Babel's formatting, kept: the same few days and times are shown over and over (each of a
    busy day's doctors heads a table with the day; every slot list repeats its times), and Babel
    takes a tenth of a millisecond for each. Dates and naive wall-clock times only: aware
    datetimes of one instant in two zones are equal keys, and would share a formatting."""
    if isinstance(value, datetime):
        return format_datetime(value, pattern, locale=locale)
    return format_date(value, pattern, locale=locale)


def template_gettext() -> dict:
    """`_`, `gettext` and `ngettext` for one template render, bound to the catalogue of the
    language it is written in. They do what Flask-Babel's do (Jinja's "newstyle": the result is
    escaped markup, always %-formatted), but Flask-Babel's look the locale and the catalogue up
    again on every call, and a busy day's timeline makes 1 500 of them."""
    translations = get_translations()
    plain = {}  # the render's words without placeholders, each looked up once (a status, 500 times)

    @pass_context
    def gettext_(context, string, **variables):
        if not variables:
            key = (string, context.eval_ctx.autoescape)
            if key not in plain:
                text = translations.ugettext(string)
                plain[key] = (Markup(text) if context.eval_ctx.autoescape else text) % variables
            return plain[key]
        text = translations.ugettext(string)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    @pass_context
    def ngettext_(context, singular, plural, number, **variables):
        variables.setdefault("num", number)
        text = translations.ungettext(singular, plural, number)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    def translated(text):
        """A stored word the catalogue may know (the default visit types' labels), as it is if it
        does not; never %-formatted, whatever it holds."""
        return translations.ugettext(text) if text else text

    return {"_": gettext_, "gettext": gettext_, "ngettext": ngettext_, "translated": translated}


def init_app(app):
    from flask_babel import Babel

    app.config.setdefault("DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["DEFAULT_LOCALE"])
    Babel(app, locale_selector=select_locale)
    # {% trans %} blocks are looked up trimmed, as babel.cfg extracts them.
    app.jinja_env.policies["ext.i18n.trimmed"] = True

    @app.context_processor
    def language_globals():
        return {"current_language": language(), "languages": LANGUAGES, **template_gettext()}
