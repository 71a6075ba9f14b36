"""Building and delivering emails.

Messages are built from `templates/email/<name>.txt` and `.html`, in the recipient's language
whoever triggered them (i18n.for_recipient: subject, both bodies and the calendar file; DESIGN.md
section 19). Appointment emails carry an ICS calendar file (METHOD REQUEST for booked/rescheduled,
CANCEL for cancelled) with a stable UID and the appointment's SEQUENCE, so calendar programs
update one event instead of adding another.
Nothing the patient wrote (notes), no documentation and no reason for visit goes into an email.

Delivery: with MAIL_SERVER set, over SMTP through Flask-Mail with a timeout on every operation;
otherwise (development) each message is written as an .eml file to MAIL_FILE_DIR
(default `instance/mail/`), so a new user can open the confirmation they just triggered.
"""
import email.policy
import smtplib
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import flask_mail
from flask import current_app, render_template
from flask_babel import gettext
from icalendar import Alarm, Calendar, Event, Timezone

from clinica_web import i18n
from clinica_web.i18n import N_
from clinica_web.services import clinic, lifecycle

ICS_METHODS = {"booked": "REQUEST", "rescheduled": "REQUEST", "cancelled": "CANCEL"}
# Each subject whole, translated when the email is written: "…: Mon 07 Dec 10:30 with Dr. Laura Rossi".
SUBJECTS = {
    "booked": N_("Your appointment is booked: %(when)s with %(doctor)s"),
    "rescheduled": N_("Your appointment has been moved: %(when)s with %(doctor)s"),
    "cancelled": N_("Your appointment is cancelled: %(when)s with %(doctor)s"),
}
REMINDER_SUBJECT = N_("Reminder: your appointment: %(when)s with %(doctor)s")
OFFER_SUBJECT = N_("A time has freed up: %(when)s with %(doctor)s")


def link_to(endpoint, **values) -> str:
    """An absolute link for an email, on SITE_URL. Never from the request's Host header, which
    the sender chooses (a registration could otherwise mail someone a link to another site), and
    the worker has no request to ask anyway."""
    site = urlsplit(current_app.config["SITE_URL"])
    # The app's routes bound to the site, without building a whole request context for each link
    # (a reminder has four: that cost more than rendering it).
    adapter = current_app.url_map.bind(site.netloc, url_scheme=site.scheme)
    return adapter.build(endpoint, values, force_external=True)


ACCOUNT_SUBJECTS = {
    "welcome": N_("Welcome to %(clinic)s"),
    "account_exists": N_("You already have an account at %(clinic)s"),
    "password_reset": N_("Reset your %(clinic)s password"),
    "set_password": N_("Choose your %(clinic)s password"),
}


def account_email(kind: str, *, user, **context) -> dict:
    """Subject and bodies of an account email of `kind` (welcome, account_exists, password_reset,
    set_password), in `user`'s language."""
    clinic_name = current_app.config["CLINIC_NAME"]
    context = dict(context, user=user, clinic_name=clinic_name)
    with i18n.for_recipient(user):
        return dict(
            subject=gettext(ACCOUNT_SUBJECTS[kind], clinic=clinic_name),
            text_body=render_template(f"email/{kind}.txt", **context),
            html_body=render_template(f"email/{kind}.html", **context),
        )


def appointment_email(appointment, kind: str, *, previous_start=None) -> dict:
    """Subject, bodies and ICS for an appointment email of `kind` (booked, cancelled, rescheduled),
    in the patient's language whoever made the change.

    Every one names the clinic, its address and phone, and links to the booking page; a moved
    booking's gives the old time too (`previous_start`), a cancellation says who cancelled."""
    with i18n.for_recipient(appointment.patient):
        context = _appointment_context(appointment, kind, previous_when=clinic.format_local(previous_start)
                                       if previous_start else None,
                                       cancelled_by_patient=appointment.cancelled_by_id == appointment.patient_id)
        return dict(
            subject=_appointment_subject(SUBJECTS[kind], appointment),
            text_body=render_template(f"email/appointment_{kind}.txt", **context),
            html_body=render_template(f"email/appointment_{kind}.html", **context),
            ics=appointment_ics(appointment, ICS_METHODS[kind]),
            ics_method=ICS_METHODS[kind],
        )


def reminder_email(appointment, action_links: dict, *, now) -> dict:
    """Subject and bodies of a reminder (services/reminders.py), with its Confirm, Reschedule and
    Cancel links; the patient's calendar already holds the event, so no ICS. Once online changes
    have closed (the change cutoff), it says so and gives the phone first. In the patient's
    language as it is when the reminder is written out (the worker, when it is due)."""
    cutoff = lifecycle.change_cutoff(appointment)
    with i18n.for_recipient(appointment.patient):
        context = _appointment_context(appointment, "reminder", links=action_links, changes_open=now < cutoff,
                                       change_cutoff=clinic.format_local(cutoff))
        return dict(
            subject=_appointment_subject(REMINDER_SUBJECT, appointment),
            text_body=render_template("email/appointment_reminder.txt", **context),
            html_body=render_template("email/appointment_reminder.html", **context),
        )


def waitlist_offer_email(offer, doctor, patient, offer_links: dict) -> dict:
    """A freed time offered to a waitlist patient, held until the offer expires: "Book it" and
    "No thanks" (services/waitlist.py); in the patient's language."""
    with i18n.for_recipient(patient):
        context = dict(patient=patient, doctor=doctor, when=clinic.format_local(offer.starts_at),
                       until=clinic.format_local(offer.expires_at), links=offer_links,
                       clinic_name=current_app.config["CLINIC_NAME"], clinic_phone=current_app.config["CLINIC_PHONE"],
                       minutes=int((offer.ends_at - offer.starts_at).total_seconds() // 60))
        return dict(
            subject=gettext(OFFER_SUBJECT, when=_subject_time(offer.starts_at), doctor=doctor.display_name),
            text_body=render_template("email/waitlist_offer.txt", **context),
            html_body=render_template("email/waitlist_offer.html", **context),
        )


def _appointment_subject(words, appointment):
    return gettext(words, when=_subject_time(appointment.starts_at), doctor=appointment.doctor.display_name)


def _subject_time(instant):
    """A start as subjects say it, in the current language: "Mon 07 Dec 10:30", "lun 7 dic 10:30"."""
    local = clinic.to_local(instant)
    return f"{i18n.format_day(local, 'short_day')} {local:%H:%M}"


def _appointment_context(appointment, kind, **more):
    config = current_app.config
    return dict(
        appointment=appointment,
        kind=kind,
        doctor=appointment.doctor,
        patient=appointment.patient,
        when=clinic.format_local(appointment.starts_at),
        day=i18n.format_day(clinic.to_local(appointment.starts_at), "long_date"),
        clinic_name=config["CLINIC_NAME"],
        clinic_address=config["CLINIC_ADDRESS"],
        clinic_phone=config["CLINIC_PHONE"],
        booking_link=booking_link(appointment),
        **more,
    )


def booking_link(appointment) -> str:
    return link_to("pages.booking_detail", appointment_id=appointment.id)


# What a calendar event of a visit is called and says (the ICS file, the Google Calendar link).
EVENT_TITLE = N_("%(clinic)s: appointment with %(doctor)s")
EVENT_LINK = N_("Your booking: %(link)s")


def google_calendar_link(appointment) -> str:
    """"Add to Google Calendar": Google's event template link, filled in (no account data sent), in
    the page's language."""
    stamp = "%Y%m%dT%H%M%SZ"
    query = urlencode({
        "action": "TEMPLATE",
        "text": gettext(EVENT_TITLE, clinic=current_app.config["CLINIC_NAME"], doctor=appointment.doctor.display_name),
        "dates": f"{appointment.starts_at.astimezone(timezone.utc):{stamp}}/"
                 f"{appointment.ends_at.astimezone(timezone.utc):{stamp}}",
        "location": current_app.config["CLINIC_ADDRESS"],
        "details": gettext(EVENT_LINK, link=booking_link(appointment)),
    })
    return f"https://calendar.google.com/calendar/render?{query}"


def appointment_ics(appointment, method: str) -> bytes:
    """The calendar file: the visit at the clinic's address, organised by the clinic, with the
    booking's link and a reminder an hour before; METHOD REQUEST or CANCEL to the patient (the
    attendee), PUBLISH for a download; the same UID always.
    Its words in the current language (the email's recipient's, or the page's for a download)."""
    tz = clinic.tz()
    calendar = Calendar()
    calendar.add("prodid", "-//Clinica//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", f"appointment-{appointment.id}@{_uid_domain()}")
    event.add("sequence", appointment.sequence)
    event.add("dtstamp", clinic.now())
    event.add("dtstart", _ical_time(appointment.starts_at, tz))
    event.add("dtend", _ical_time(appointment.ends_at, tz))
    event.add("summary", gettext(EVENT_TITLE, clinic=current_app.config["CLINIC_NAME"],
                                 doctor=appointment.doctor.display_name))
    # (A download, PUBLISH, of a visit cancelled since says so too; emails are written as the visit was.)
    cancelled = method == "CANCEL" or method == "PUBLISH" and appointment.status == lifecycle.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("location", current_app.config["CLINIC_ADDRESS"])
    event.add("description", gettext(EVENT_LINK, link=booking_link(appointment)) + "\n"
              + gettext("To change it, call %(phone)s.", phone=current_app.config["CLINIC_PHONE"]))
    event.add("organizer", _sender_address(), parameters={"cn": current_app.config["CLINIC_NAME"]})
    if method != "PUBLISH" and appointment.patient.email:  # a published file invites nobody (RFC 5546)
        event.add("attendee", f"mailto:{appointment.patient.email}", parameters={"cn": appointment.patient.full_name})
    if not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", gettext("Appointment with %(doctor)s in one hour",
                                         doctor=appointment.doctor.display_name))
        alarm.add("trigger", timedelta(hours=-1))
        event.add_component(alarm)
    # The VTIMEZONE the event's local times refer to comes first.
    calendar.add_component(_vtimezone(tz.key, appointment.starts_at.astimezone(tz).year))
    calendar.add_component(event)
    return calendar.to_ical()


def _ical_time(instant: datetime, tz) -> datetime:
    """The clinic's local time, which the file's VTIMEZONE explains; in UTC if it is the second
    pass of a repeated hour, which a local time cannot name (RFC 5545 reads it as the first: a
    visit ending there lasted no time at all)."""
    local = instant.astimezone(tz)
    return instant.astimezone(timezone.utc) if local.fold else local


@lru_cache(maxsize=16)
def _vtimezone(name: str, year: int) -> Timezone:
    """The zone's rules for `year` and the next: the default span (1970 to 2038) makes the file
    five times bigger, and working the rules out takes longer than the rest of the email."""
    return Timezone.from_tzid(name, first_date=date(year, 1, 1), last_date=date(year + 1, 12, 31))


def _sender_address():
    _name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return f"mailto:{address}"


def _uid_domain():
    return _sender_address().partition("@")[2] or "clinica.local"


class _Message(flask_mail.Message):
    """Flask-Mail's message, serialized with the classic email policy (CRLF line ends, as SMTP
    wants). Flask-Mail's own (policy.SMTP) parses every header again through the header registry,
    which cost the worker more than building and sending the message together; Flask-Mail has
    already encoded the headers, so the bytes say the same."""

    def as_bytes(self) -> bytes:
        return self._message().as_bytes(policy=_SMTP_BYTES)


_SMTP_BYTES = email.policy.compat32.clone(linesep="\r\n")


def build_message(*, recipient, subject, text_body, html_body, cc=None, ics=None, ics_method=None):
    message = _Message(
        subject=subject,
        recipients=[recipient],
        cc=[cc] if cc else None,
        body=text_body,
        html=html_body,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
    )
    if ics:
        message.attach(
            "appointment.ics",
            f"text/calendar; method={ics_method}; charset=UTF-8",
            ics,
            headers={"Content-Class": "urn:content-classes:calendarmessage"},
        )
    return message


_open_connection: ContextVar[list | None] = ContextVar("clinica_mail_connection", default=None)


@contextmanager
def one_connection():
    """Deliveries inside share one SMTP connection, opened by the first and closed at the end
    (the worker's pass: a connection per message would cost the mail server's greeting each time).
    A delivery that fails drops the connection; the next opens a fresh one."""
    holder = []
    token = _open_connection.set(holder)
    try:
        yield
    finally:
        _open_connection.reset(token)
        if holder:
            _close_quietly(holder.pop())


def deliver(message: flask_mail.Message) -> None:
    """Send one message now: SMTP if MAIL_SERVER is set, else a file. Raises on failure."""
    config = current_app.config
    if config.get("MAIL_SERVER"):
        holder = _open_connection.get()
        if holder is None:
            # This app's Flask-Mail state: `mail.state` stays None when the extension is bound with init_app.
            with _TimedConnection(current_app.extensions["mail"], config["MAIL_TIMEOUT_SECONDS"]) as connection:
                connection.send(message)
            return
        if not holder:
            holder.append(_TimedConnection(current_app.extensions["mail"], config["MAIL_TIMEOUT_SECONDS"]).__enter__())
        try:
            holder[0].send(message)
        except BaseException:
            _close_quietly(holder.pop())
            raise
    else:
        folder = Path(config.get("MAIL_FILE_DIR") or Path(current_app.instance_path) / "mail")
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        (folder / name).write_bytes(message.as_bytes())


def _close_quietly(connection):
    try:
        connection.__exit__(None, None, None)
    except (OSError, smtplib.SMTPException):
        pass  # the server went away: the connection is gone either way


class _TimedConnection(flask_mail.Connection):
    """Flask-Mail's connection with a timeout: its own opens SMTP with none, and could hang forever."""

    def __init__(self, state, timeout):
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self):
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=self.timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host
