"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi run`."""
from clinica_web import create_app

app = create_app()
