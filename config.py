"""Configuration, read from the environment (and a `.env` file in development).

`create_app()` loads the class named by CLINICA_CONFIG (`development` by default,
`production` in deployments), then applies any overrides.
"""
import os
import re
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")


def _env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_bool(name, default):
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_hours(name, default):
    """A comma-separated list of whole hours ("24,2"), largest first; empty means none."""
    value = os.environ.get(name, default)
    return sorted({int(part) for part in value.split(",") if part.strip()}, reverse=True)


def _database_url():
    url = os.environ.get("DATABASE_URL", "")
    # Heroku-style URLs say postgres://; SQLAlchemy wants a driver name, and we ship psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url or None


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # None means "SQLite in the instance folder"; create_app fills in the path.
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    CLINIC_NAME = os.environ.get("CLINIC_NAME", "Clinica")
    # The language of pages for visitors whose browser asks for none we have, and of emails to
    # patients who never chose one: "en" or "es".
    DEFAULT_LOCALE = os.environ.get("DEFAULT_LOCALE", "en")
    CLINIC_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "America/Santiago")
    MIN_NOTICE_MINUTES = _env_int("MIN_NOTICE_MINUTES", 0)
    BOOKING_HORIZON_DAYS = _env_int("BOOKING_HORIZON_DAYS", 90)
    # Patients change or cancel online until this many hours before the visit; then they call.
    CHANGE_CUTOFF_HOURS = _env_int("CHANGE_CUTOFF_HOURS", 24)
    # How long a freed slot is held for the waitlist patient it is offered to (DESIGN.md section 18).
    WAITLIST_HOLD_MINUTES = _env_int("WAITLIST_HOLD_MINUTES", 15)
    # A reminder email this many hours before each visit (DESIGN.md section 16).
    REMINDER_HOURS = _env_hours("REMINDER_HOURS", "24,2")
    CLINIC_ADDRESS = os.environ.get("CLINIC_ADDRESS", "Av. Providencia 1234, Santiago")
    CLINIC_PHONE = os.environ.get("CLINIC_PHONE", "+56 2 2345 6789")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Reception screens stay open all day: the CSRF token lives as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    PASSWORD_RESET_MAX_AGE = _env_int("PASSWORD_RESET_MAX_AGE", 3600)

    # Mail. With MAIL_SERVER set, messages go over SMTP; without it (development), they are
    # written as .eml files to MAIL_FILE_DIR (default: instance/mail) so they can be read.
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Clinica <no-reply@clinica.test>")
    MAIL_TIMEOUT_SECONDS = _env_int("MAIL_TIMEOUT_SECONDS", 10)
    MAIL_FILE_DIR = os.environ.get("MAIL_FILE_DIR")
    MAIL_COPY_DOCTOR = _env_bool("MAIL_COPY_DOCTOR", False)
    MAIL_MAX_ATTEMPTS = _env_int("MAIL_MAX_ATTEMPTS", 8)
    # The site's address, for the links in emails (never taken from a request's Host header).
    SITE_URL = os.environ.get("SITE_URL")
    WORKER_INTERVAL_SECONDS = float(os.environ.get("WORKER_INTERVAL_SECONDS") or 3)

    # No request body over 1 MB is read (413): a booking or a form is a few kilobytes, and a huge
    # body would otherwise tie up a worker while it is parsed.
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 1024 * 1024)

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True


class DevelopmentConfig(Config):
    DEBUG = True
    SECRET_KEY = Config.SECRET_KEY or "dev-only-secret-key-never-use-in-production"
    SITE_URL = Config.SITE_URL or "http://127.0.0.1:5000"


class ProductionConfig(Config):
    # Secure cookies (https only); SESSION_COOKIE_SECURE=false only for plain-HTTP loopback benchmarks.
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE

    @staticmethod
    def check(config):
        """Refuse to start without what production needs (called by create_app)."""
        secret = config.get("SECRET_KEY")
        if not secret or len(secret) < 32:
            # It signs sessions, CSRF tokens, reset links and JWTs (HS256 wants 32 bytes or more).
            raise RuntimeError("SECRET_KEY must be set, at least 32 characters, outside development.")
        if not re.fullmatch(r"https?://[^/\s]+/?", config.get("SITE_URL") or ""):
            # Links in emails (password reset, welcome) must reach the site: no localhost default here.
            raise RuntimeError("SITE_URL must be set outside development, e.g. https://clinic.example")


def config_class():
    """The config class named by CLINICA_CONFIG: 'development' (default) or 'production'."""
    name = os.environ.get("CLINICA_CONFIG", "development").strip().lower()
    classes = {"development": DevelopmentConfig, "production": ProductionConfig}
    if name not in classes:
        raise RuntimeError(f"CLINICA_CONFIG must be one of {sorted(classes)}, not {name!r}")
    return classes[name]
