"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi run`."""
import gc

from clinica_web import create_app

app = create_app()

# What is loaded by now (modules, the app, its routes) lives as long as the worker: frozen, the
# garbage collector stops walking it on every full collection. A busy day list allocates enough to
# set one off; unfrozen, that added up to 40 ms to its slowest requests (the benchmark's p99).
gc.collect()
gc.freeze()
