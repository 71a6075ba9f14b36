"""Clinica: a clinic's booking website."""
from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext
from werkzeug.routing import IntegerConverter

import config
from clinica_web import database  # noqa: F401  (registers the SQLite connection hooks)
from clinica_web import extensions
from clinica_web.services.values import MAX_ID

PROJECT_DIR = Path(__file__).resolve().parent.parent


def create_app(overrides=None):
    """The application factory: config, extensions, blueprints, error handlers, CLI."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_DIR / "templates"),
        static_folder=str(PROJECT_DIR / "static"),
        instance_path=str(PROJECT_DIR / "instance"),
    )
    config_class = config.config_class()
    app.config.from_object(config_class)
    app.config.update(overrides or {})
    if hasattr(config_class, "check"):
        config_class.check(app.config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'clinica.sqlite'}"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # What begin_write() relies on (PostgreSQL's default, said so that a server set otherwise
        # cannot change it): each statement sees what is committed when it runs.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                                   "isolation_level": "READ COMMITTED"}

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def register_extensions(app):
    # Through the module: `clinica_web.mail` is our mail module, not Flask-Mail's extension.
    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(PROJECT_DIR / "migrations"))
    extensions.csrf.init_app(app)
    extensions.mail.init_app(app)
    extensions.limiter.init_app(app)
    login_manager = extensions.login_manager
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # Lazy: said in the reader's language, and flashed as a plain string (str), not as a lazy one.
    login_manager.login_message = lazy_gettext("Please log in to continue.")
    login_manager.localize_callback = str
    login_manager.login_message_category = "info"


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive 32-bit integer; anything else is a 404 before any view runs."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)


def register_blueprints(app):
    app.url_map.converters["id"] = IdConverter
    # Asked for by browsers (and feed readers) whatever the page says: the icon, not a 404.
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.svg"))
    from clinica_web.blueprints import admin, api, auth, desk, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(admin.bp)
    for blueprint in api.BLUEPRINTS:
        extensions.csrf.exempt(blueprint)
        app.register_blueprint(blueprint)


def register_errorhandlers(app):
    from clinica_web import errors, security

    errors.init_app(app)
    security.init_app(app)


def register_template_helpers(app):
    from clinica_web import i18n, templating

    i18n.init_app(app)
    templating.init_app(app)


def register_commands(app):
    from clinica_web import cli

    cli.init_app(app)
