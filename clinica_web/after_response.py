"""Work that waits until the response has been sent, so the user does not wait for it.

Werkzeug runs a response's `call_on_close` callbacks when the WSGI server closes it, after the
last byte has gone out (gunicorn and the development server both do). The work runs in an app
context of its own: the request's is gone by then. Outside a request it runs at once.
"""
from flask import after_this_request, current_app, has_request_context


def run_after_response(work, *, what: str) -> None:
    """Call `work()` after this request's response is sent, or now if there is no request.

    An exception from deferred work is logged as "`what` failed": the response is already out.
    """
    if not has_request_context():
        work()
        return
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            try:
                work()
            except Exception:
                app.logger.exception("%s after the response failed", what)

    @after_this_request
    def register(response):
        response.call_on_close(run)
        return response
