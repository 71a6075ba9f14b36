"""The background worker: `flask --app wsgi worker` (DESIGN.md section 16).

It does what no request should wait for. Every few seconds (WORKER_INTERVAL_SECONDS) one pass:
turns password reset requests into reset emails, releases the waitlist holds that ran out, offers
freed time to the waitlist, then sends the outbox emails that are due. The
web process never talks to the mail server. `--once` does a single pass (cron, tests).

Several workers may run at once, on one machine or several: each pass claims its rows with row
locks that skip what another worker holds (PostgreSQL), or under SQLite's single write lock, so
nothing is sent twice. SIGTERM or Ctrl-C lets the pass under way finish, then the worker stops.
"""
import signal
import time

from flask import current_app

from clinica_web import mail
from clinica_web.extensions import db
from clinica_web.services import accounts, clinic, notifications, waitlist


def run_once(*, now) -> dict:
    """One pass; returns what it did: {"reset_requests": n, "offers_expired": n, "offers_made": n,
    "sent": n, "failed": n}.

    Each job is on its own: one that fails (a row it cannot change, a bug) is logged and rolled
    back, and the others still run; above all the emails still go out. The pass then fails with
    the first job's error (the loop logs it and goes on; `worker --once` exits non-zero), so that
    a job failing pass after pass is seen, not taken for one with nothing to do."""
    def send_reset_links():
        return accounts.send_reset_links(make_link=lambda token: mail.link_to("auth.password_reset", token=token),
                                         now=now)

    jobs = {"reset_requests": send_reset_links, "offers_expired": lambda: waitlist.expire_offers(now=now),
            "offers_made": lambda: waitlist.offer_freed_time(now=now),
            "sending": lambda: notifications.send_due(now=now)}
    done, failures = {}, []
    for name, job in jobs.items():
        try:
            done[name] = job()
        except Exception as error:  # logged with its traceback; the next job runs
            current_app.logger.exception("Worker: %s failed", name.replace("_", " "))
            failures.append(error)
            try:
                db.session.rollback()
            except Exception:  # the database itself is away: the next jobs will say so
                pass
    if failures:
        raise failures[0]
    sent, failed = done.pop("sending")
    return {**done, "sent": sent, "failed": failed}


def run_until_stopped(app, *, interval: float, report=print) -> None:
    """Passes every `interval` seconds until SIGTERM or SIGINT; each in a fresh app context (and
    database session), so a pass never sees rows another process changed as they were before."""
    stop = []  # a plain flag: a signal handler must not take a lock the interrupted code may hold

    def ask_to_stop(*_):
        stop.append(True)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, ask_to_stop)
    report(f"Worker started: a pass every {interval:g} s. Stop it with Ctrl-C or SIGTERM.")
    while not stop:
        with app.app_context():
            try:
                done = run_once(now=clinic.now())
            except Exception:  # the database or the mail server is away: log it, try again next pass
                app.logger.exception("Worker pass failed; trying again in %g s", interval)
            else:
                if any(done.values()):
                    report("Worker: " + ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in done.items()))
                if done["sent"] + done["failed"] >= notifications.BATCH:
                    continue  # a full batch: more may be due (a morning's reminders), no pause
            finally:
                db.session.remove()
        resume_at = time.monotonic() + interval
        while not stop and time.monotonic() < resume_at:
            time.sleep(min(0.1, interval))
    report("Worker stopped.")
