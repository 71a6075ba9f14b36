"""The waitlist (DESIGN.md section 18): patients wait for time with a doctor, or any doctor of a
specialty, over a range of days and a part of the day.

When time frees up (a cancel or a move: history.record; a blocked period removed or hours added:
schedule.py), a FreedTime row is written in that change's transaction. The worker offers it
(`offer_freed_time`) to the matching entries in joining order: each is offered the earliest slot
of the freed time still free that fits it, until the slots or the entries run out (one open offer
per slot, at most one per entry). An offered slot is **held**: an appointment row with status
"held", which the database's overlap guards count like any booking (lifecycle: every status but
cancelled holds time), so nobody else, nor the next entry, can have it meanwhile. The patient gets
an email with single-use "Book it" and "No thanks" links. Accepting turns the held row into a
booking; declining, or the hold expiring (`expire_offers`, the worker), releases it and frees the
time again for the next entry.
"""
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError

from clinica_web import mail
from clinica_web.database import (
    gave_up_waiting,
    give_up_lock_waits_after,
    locked,
    retried_after_a_deadlock,
    unit_of_work,
)
from clinica_web.extensions import db
from clinica_web.i18n import N_
from clinica_web.models import (
    CANCELLED,
    HELD,
    PATIENT,
    SCHEDULED,
    Appointment,
    Doctor,
    FreedTime,
    User,
    WaitlistEntry,
    WaitlistOffer,
)
from clinica_web.models.waitlist import (
    ACCEPTED,
    ACTIVE,
    AFTERNOON,
    ANY_TIME,
    BOOKED,
    DECLINED,
    EXPIRED,
    LEFT,
    MORNING,
    OPEN,
)
from clinica_web.services import availability, booking, clinic, history, lifecycle, links, notifications, slots, values
from clinica_web.services.errors import InvalidInput, NotAllowed, NotFound

MAX_ACTIVE = 3
MAX_RANGE_DAYS = 60
SUGGESTED_DAYS = 14  # what a waitlist form offers from a day without free time (days_to_suggest)
PARTS_OF_DAY = {MORNING: "Morning (before 13:00)", AFTERNOON: "Afternoon (from 13:00)", ANY_TIME: "Any time"}
NOT_YOURS = N_("Waitlist entry not found")


def join(*, patient: User, doctor_id=None, specialty=None, appointment_type=None, from_date, to_date,
         part_of_day=ANY_TIME, now: datetime) -> WaitlistEntry:
    """Add the patient to the waitlist of a doctor or a specialty (exactly one of them), for a
    visit type, from one day to another (at most 60 days, none past, within the booking horizon)
    and a part of the day; at most MAX_ACTIVE entries waiting at once."""
    if patient.role != PATIENT:
        raise NotAllowed("Only patients join the waitlist")
    doctor = _target(doctor_id, specialty)
    kind = booking.find_type(appointment_type)
    first, last = _days(from_date, to_date, now=now)
    if not isinstance(part_of_day, str) or part_of_day not in PARTS_OF_DAY:  # a list or object: unhashable
        raise InvalidInput("Choose a part of the day: %(parts)s", field="part_of_day",
                           parts=", ".join(PARTS_OF_DAY))
    with unit_of_work():
        locked(User, patient.id)  # one join at a time per patient: the count below stays true
        # The entries the patient sees on their list: one whose last day has passed waits for
        # nothing, and counting it would leave them no entry to leave.
        waiting = db.session.scalar(select(func.count(WaitlistEntry.id)).where(
            WaitlistEntry.patient_id == patient.id, WaitlistEntry.status == ACTIVE,
            WaitlistEntry.to_date >= clinic.local_today(now)))
        entry = WaitlistEntry(patient_id=patient.id, doctor_id=doctor.id if doctor else None,
                              specialty=None if doctor else specialty, appointment_type=kind.name,
                              from_date=first, to_date=last, part_of_day=part_of_day, status=ACTIVE, created_at=now)
        if _overlapping_wait(entry, doctor.specialty if doctor else specialty, now=now):
            raise InvalidInput("You are already waiting for this on some of these days: leave that entry first "
                               "to change it")
        if waiting >= MAX_ACTIVE:
            raise InvalidInput("You can wait for at most %(limit)s things at once: leave one first", limit=MAX_ACTIVE)
        db.session.add(entry)
    return entry


def _overlapping_wait(entry: WaitlistEntry, specialty: str, *, now) -> bool:
    """Whether the patient already waits, in an entry on their list, for some of what `entry`
    would: the same visit type, some of its days and part of the day, and its doctor (a doctor, or
    any doctor of the doctor's specialty). Two such entries could hold two times for the patient
    at once, and take two of the MAX_ACTIVE places for one wait."""
    same_doctors = [WaitlistEntry.specialty == specialty]
    same_doctors.append(WaitlistEntry.doctor_id == entry.doctor_id if entry.doctor_id is not None
                        else WaitlistEntry.doctor_id.in_(select(Doctor.id).where(Doctor.specialty == specialty)))
    parts = tuple(PARTS_OF_DAY) if entry.part_of_day == ANY_TIME else (entry.part_of_day, ANY_TIME)
    return db.session.scalar(select(WaitlistEntry.id).where(
        WaitlistEntry.patient_id == entry.patient_id, WaitlistEntry.status == ACTIVE,
        WaitlistEntry.to_date >= clinic.local_today(now), or_(*same_doctors),
        WaitlistEntry.appointment_type == entry.appointment_type, WaitlistEntry.from_date <= entry.to_date,
        WaitlistEntry.to_date >= entry.from_date, WaitlistEntry.part_of_day.in_(parts)).limit(1)) is not None


def _target(doctor_id, specialty) -> Doctor | None:
    """The doctor waited for, or None for a specialty (which some active doctor has)."""
    if (doctor_id in (None, "")) == (specialty in (None, "")):
        raise InvalidInput("Choose a doctor or a specialty", field="doctor_id")
    if doctor_id not in (None, ""):
        doctor = availability.active_doctor(values.whole_number(doctor_id))
        if doctor is None:
            raise NotFound("Doctor not found", field="doctor_id")
        return doctor
    if not isinstance(specialty, str) or specialty not in _specialties():
        raise InvalidInput("No doctor of this specialty", field="specialty")
    return None


def _days(from_date, to_date, *, now) -> tuple[date, date]:
    """The first and last day waited for: none past, at most MAX_RANGE_DAYS, within the horizon."""
    first, last = values.parse_date(from_date), values.parse_date(to_date)
    today = clinic.local_today(now)
    if first < today:
        raise InvalidInput("The first day cannot be in the past", field="from_date")
    if last < first:
        raise InvalidInput("The last day comes before the first", field="to_date")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput("Choose at most %(limit)s days", field="to_date", limit=MAX_RANGE_DAYS)
    if last > today + timedelta(days=clinic.policy().horizon_days):
        raise InvalidInput("The last day is beyond the booking horizon", field="to_date")
    return first, last


def days_to_suggest(first: date, *, now: datetime) -> tuple[date, date]:
    """The days a waitlist form offers from a day without free time: two weeks from it, none
    past and none beyond the horizon, so that the form goes through as it comes."""
    today = clinic.local_today(now)
    horizon = today + timedelta(days=clinic.policy().horizon_days)
    first = min(max(first, today), horizon)
    return first, min(first + timedelta(days=SUGGESTED_DAYS - 1), horizon)


def _specialties():
    return set(db.session.scalars(select(Doctor.specialty).where(Doctor.active)))


def entries_of(patient: User, *, now: datetime) -> list[WaitlistEntry]:
    """The patient's active entries whose last day has not passed, in joining order."""
    return list(db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.patient_id == patient.id, WaitlistEntry.status == ACTIVE,
                                    WaitlistEntry.to_date >= clinic.local_today(now))
        .options(db.joinedload(WaitlistEntry.doctor)).order_by(WaitlistEntry.id)))


def leave(*, patient: User, entry_id, now: datetime) -> WaitlistEntry:
    """The patient leaves one of their entries (another patient's, or an unknown id: not found). A
    time held for it meanwhile is let go, as "No thanks" would (for the next in line)."""
    with unit_of_work():
        entry = locked(WaitlistEntry, entry_id) if values.valid_id(entry_id) else None
        if entry is None or entry.patient_id != patient.id or entry.status != ACTIVE:
            raise NotFound(NOT_YOURS)
        entry.status, entry.ended_at = LEFT, now
        # Read after the lock: an offer the worker made while it held the entry is committed now.
        for offer in db.session.scalars(select(WaitlistOffer).where(WaitlistOffer.entry_id == entry.id,
                                                                    WaitlistOffer.status == OPEN)
                                        .with_for_update()):
            _release(offer, DECLINED, now=now)
    return entry


def describe(entry: WaitlistEntry) -> str:
    """"Dr. Laura Rossi" or "any doctor of Pediatrics"."""
    return entry.doctor.display_name if entry.doctor_id else f"any doctor of {entry.specialty}"


def covers(entry: WaitlistEntry, day: date, minute: int) -> bool:
    """Whether a start on `day` at local `minute` is what the entry waits for (its days, its part of day)."""
    if not entry.from_date <= day <= entry.to_date:
        return False
    return entry.part_of_day == ANY_TIME or (minute < 13 * 60) == (entry.part_of_day == MORNING)


# ---------------------------------------------------------------------------------------------
# Freed time, offers and holds

ACCEPT, DECLINE = "waitlist_accept", "waitlist_decline"
HOLD_WAIT = "100ms"  # how long the worker waits for another transaction's lock before giving the slot up
OFFER_EXPIRED = N_("Offer expired")


def time_freed(doctor_id, starts_at: datetime, ends_at: datetime, *, now: datetime) -> None:
    """Note, in the caller's unit of work, that a doctor has [starts_at, ends_at) again (for the
    worker to offer); nothing for time already begun."""
    if ends_at > now:
        db.session.add(FreedTime(doctor_id=doctor_id, starts_at=max(starts_at, now), ends_at=ends_at, created_at=now))


def offer_freed_time(*, now: datetime, limit: int = 20) -> int:
    """The worker: offer each freed time (oldest first) to the waitlist. Several workers take
    different rows (SKIP LOCKED on PostgreSQL; SQLite lets one writer in at a time), and the
    overlap guards refuse a second hold of one slot whatever happens. Returns the offers made."""
    made = 0
    with unit_of_work():
        # A request booking a long visit over two freed slots waits for this transaction's hold of
        # the first; were the worker then to wait for that booking to hold the second, PostgreSQL
        # would break the deadlock by failing one of them. So the worker waits for no one: a slot
        # whose hold would wait is given up (_hold), as if the other booking had come first.
        give_up_lock_waits_after(HOLD_WAIT)
        given_up = []  # (doctor id, start, end) of the slots given up this pass: not tried again
        freed = db.session.scalars(select(FreedTime).order_by(FreedTime.id).limit(limit)
                                   .with_for_update(skip_locked=True)).all()
        for item in freed:
            made += _offer(item, now=now, given_up=given_up)
            db.session.delete(item)
    return made


def _offer(item: FreedTime, *, now, given_up) -> int:
    """Offer one freed time to the entries waiting for it, in joining order, each the earliest slot
    of it still free that fits them (a hold is busy time for the entries after it), until the
    slots or the entries run out. Returns the offers made."""
    doctor = availability.active_doctor(item.doctor_id)
    if doctor is None or item.ends_at <= now:
        return 0
    first_day, last_day = clinic.local_today(item.starts_at), clinic.local_today(item.ends_at - timedelta(minutes=1))
    entries = _waiting_for(doctor, first_day, last_day, item)
    types = booking.appointment_types()
    durations = [booking.find_type(entry.appointment_type, types).default_duration for entry in entries]
    made = 0
    for entry, duration in zip(entries, durations):
        if _offer_to(entry, doctor, item, duration, now=now, given_up=given_up):
            made += 1
            if next(_free_times(doctor, item, min(durations), now=now), None) is None:
                break  # the freed time is all held now: no visit of those waiting fits in it
    return made


def _offer_to(entry: WaitlistEntry, doctor: Doctor, item: FreedTime, duration: int, *, now, given_up) -> bool:
    """Hold and offer the entry (locked by _waiting_for) the earliest free slot of the freed time
    that fits it (its days, its part of the day, its patient free then, not given up this pass);
    False if there is none."""
    for day, minute, start, end in _free_times(doctor, item, duration, now=now, first=entry.from_date,
                                               last=entry.to_date):
        if not covers(entry, day, minute):
            continue
        if any(held_by == doctor.id and other_start < end and start < other_end
               for held_by, other_start, other_end in given_up):
            continue  # a booking not yet committed wants it (_hold)
        if availability.rules_stopping(doctor, day, minute, duration, now=now, patient_id=entry.patient_id):
            continue  # the patient is elsewhere then
        if _hold(entry, doctor, start, end, now=now, given_up=given_up):
            return True
    return False


def _free_times(doctor, item, duration, *, now, first=date.min, last=date.max):
    """(local day, minute, start, end) of each free slot of `duration` inside the freed time,
    between the days `first` and `last`, earliest first; each day is read when it is reached."""
    tz = clinic.tz()
    first_day = max(clinic.local_today(item.starts_at), first)
    last_day = min(clinic.local_today(item.ends_at - timedelta(minutes=1)), last)
    for day in _days_between(first_day, last_day):
        for minute in availability.free_slots(doctor, day, duration, now=now):
            start = slots.local_instant(day, minute, tz)
            end = start + timedelta(minutes=duration)
            if item.starts_at <= start and end <= item.ends_at:
                yield day, minute, start, end


def _days_between(first, last):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _waiting_for(doctor, first_day, last_day, item) -> list[WaitlistEntry]:
    """Active entries for this doctor or their specialty whose days meet the freed time, in joining
    order; not those with an open offer, nor those already offered (and who let go of) this time,
    nor those of a patient who cancelled the visit whose time it is (they let go of it too; not
    when the clinic cancelled it),
    nor those of a patient the offer cannot reach (no email address: the desk offers them a time
    by phone, by hand). Locked, skipping those another worker has locked (it is offering them a
    freed time of its own): two workers never offer one entry two times, and neither waits for
    the other."""
    offered = select(WaitlistOffer.entry_id).where(or_(
        WaitlistOffer.status == OPEN,
        (WaitlistOffer.doctor_id == doctor.id) & (WaitlistOffer.starts_at < item.ends_at)
        & (WaitlistOffer.ends_at > item.starts_at)))
    # (The time a cancel freed is its visit's: the patient's latest cancelled visit there, the
    # latest booked. Not one the clinic cancelled: they did not let go, even of a time they had
    # once cancelled themselves and booked again.)
    last_cancel_there = (
        select(func.coalesce(Appointment.cancel_reason_code, "")).where(
            Appointment.patient_id == WaitlistEntry.patient_id, Appointment.doctor_id == doctor.id,
            Appointment.status == CANCELLED, Appointment.starts_at <= item.starts_at,
            Appointment.ends_at >= item.ends_at)
        .order_by(Appointment.id.desc()).limit(1).correlate(WaitlistEntry).scalar_subquery())
    cancelled_it = func.coalesce(last_cancel_there.not_in(lifecycle.CLINIC_CANCEL_REASONS), False)
    reachable = select(User.id).where(User.email.is_not(None))
    return list(db.session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.status == ACTIVE, or_(WaitlistEntry.doctor_id == doctor.id,
                                                WaitlistEntry.specialty == doctor.specialty),
            WaitlistEntry.from_date <= last_day, WaitlistEntry.to_date >= first_day,
            WaitlistEntry.id.notin_(offered), WaitlistEntry.patient_id.in_(reachable), ~cancelled_it)
        .options(db.joinedload(WaitlistEntry.patient)).order_by(WaitlistEntry.id)
        .with_for_update(skip_locked=True, of=WaitlistEntry)))


def _hold(entry, doctor, start, end, *, now, given_up=None, offered_by: User | None = None) -> bool:
    """Hold [start, end) for the entry and offer it (by `offered_by`, staff offering it by hand, or
    by the worker); False if the database refuses the hold (someone booked the time a moment ago)."""
    held = Appointment(patient_id=entry.patient_id, doctor_id=doctor.id, starts_at=start, ends_at=end,
                       duration_minutes=int((end - start).total_seconds() // 60),
                       appointment_type=entry.appointment_type, status=HELD, notes="", created_at=now, updated_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(held)
    except IntegrityError:
        return False
    except OperationalError as error:
        if not gave_up_waiting(error):
            raise
        # An uncommitted booking wants the time (offer_freed_time): not tried again this pass, and
        # noted freed again, for the next pass to offer if that booking does not go through.
        if given_up is not None:
            given_up.append((doctor.id, start, end))
        time_freed(doctor.id, start, end, now=now)
        return False
    hold_until = min(now + timedelta(minutes=current_app.config["WAITLIST_HOLD_MINUTES"]), start)
    offer = WaitlistOffer(entry=entry, doctor_id=doctor.id, starts_at=start, ends_at=end, appointment_id=held.id,
                          status=OPEN, expires_at=hold_until, created_at=now,
                          offered_by_id=offered_by.id if offered_by is not None else None)
    db.session.add(offer)
    db.session.flush()
    if entry.patient.email:  # (one without is offered a time by the desk only, which tells them)
        notifications.queue(recipient=entry.patient.email, now=now,
                            **mail.waitlist_offer_email(offer, doctor, entry.patient, answer_links(offer)))
    return True


ANSWER_PAGES = {"accept": "pages.waitlist_offer", "decline": "pages.waitlist_decline"}


def answer_tokens(offer: WaitlistOffer) -> dict[str, str]:
    """The offer's "Book it" and "No thanks" ({"accept": token, "decline": token}), each single-use
    and dead once the hold ends: for its email, for each of the two pages to lead to the other (the
    link a page was opened with works for its own answer only), and for the patient's waitlist page.
    Empty for a patient without an email address: no link reaches them (the desk answers for them)."""
    address = offer.entry.patient.email
    if not address:
        return {}
    return {name: links.make(action, target_id=offer.id, sequence=0, expires_at=offer.expires_at, recipient=address)
            for name, action in (("accept", ACCEPT), ("decline", DECLINE))}


def answer_links(offer: WaitlistOffer) -> dict[str, str]:
    """answer_tokens as absolute links (ANSWER_PAGES), for an email."""
    return {name: mail.link_to(ANSWER_PAGES[name], token=token) for name, token in answer_tokens(offer).items()}


def open_offers_of(patient: User, *, now: datetime) -> list[WaitlistOffer]:
    """The times held for the patient now that "Book it" would still book (open offers not yet run
    out, whose time the calendar still has: as the email's page, offer_to_answer), soonest first,
    with their doctors and entries: their pages show them beside the email that offered them.
    (A few queries for each: a patient has at most MAX_ACTIVE entries, each at most one offer.)"""
    offers = db.session.scalars(
        select(WaitlistOffer).join(WaitlistEntry, WaitlistOffer.entry_id == WaitlistEntry.id)
        .where(WaitlistEntry.patient_id == patient.id, WaitlistOffer.status == OPEN, WaitlistOffer.expires_at > now)
        .options(db.joinedload(WaitlistOffer.doctor),
                 db.joinedload(WaitlistOffer.entry).joinedload(WaitlistEntry.patient))
        .order_by(WaitlistOffer.starts_at, WaitlistOffer.id))
    return [offer for offer in offers if _still_bookable(offer, now=now)]


def offer_of_link(token: str, action: str, *, now: datetime, lock=False) -> WaitlistOffer:
    """The open offer an emailed link is for; InvalidInput(OFFER_EXPIRED) if it is no longer open,
    or the link went to an address its patient has had changed since."""
    try:
        link = links.read(token, action, now=now)
    except InvalidInput:
        raise InvalidInput(OFFER_EXPIRED) from None
    offer = locked(WaitlistOffer, link.target_id) if lock else db.session.get(WaitlistOffer, link.target_id)
    if (offer is None or offer.status != OPEN or now >= offer.expires_at
            or not links.sent_to(link, offer.entry.patient.email)):
        raise InvalidInput(OFFER_EXPIRED)
    return offer


def booked_by_link(token: str, *, now: datetime) -> Appointment | None:
    """The booking an offer's "Book it" link made, if it made one that still stands: the link
    opened again says "booked", not "the time may have gone to someone else" (the next day too:
    it is the booking that must still stand, not the link)."""
    try:
        link = links.read(token, ACCEPT, now=now, used_too=True, expired_too=True)
    except InvalidInput:
        return None
    offer = db.session.get(WaitlistOffer, link.target_id)
    if (offer is None or offer.status != ACCEPTED or offer.appointment_id is None
            or not links.sent_to(link, offer.entry.patient.email)):
        return None
    visit = db.session.get(Appointment, offer.appointment_id)
    return visit if visit is not None and visit.status in lifecycle.HOLDS_TIME else None


@retried_after_a_deadlock
def accept(token: str, *, now: datetime, patient: User | None = None) -> Appointment:
    """Book the held slot: it becomes a normal booking (its email, its reminders), the entry leaves
    the list. `patient`: the API's caller, who must be the offer's patient."""
    with unit_of_work():
        # The entry is locked before the offer, as leave() locks them: neither waits for the other in turn.
        locked(WaitlistEntry, offer_of_link(token, ACCEPT, now=now).entry_id)
        offer = offer_of_link(token, ACCEPT, now=now, lock=True)
        if patient is not None and offer.entry.patient_id != patient.id:
            raise InvalidInput(OFFER_EXPIRED)
        locked(User, offer.entry.patient_id)  # as booking._book: their reminders' choice holds, their bookings queue
        if not _still_bookable(offer, now=now, lock=True):
            raise InvalidInput(OFFER_EXPIRED)  # (the hold runs out as any other: the worker releases it)
        visit = locked(Appointment, offer.appointment_id)
        visit.status, visit.created_at, visit.updated_at = SCHEDULED, now, now
        offer.status, offer.decided_at = ACCEPTED, now
        offer.entry.status, offer.entry.ended_at = BOOKED, now
        links.spend(links.read(token, ACCEPT, now=now), now=now)
        history.record(visit, history.OFFERED, actor=offer.offered_by, now=offer.created_at)
        history.record(visit, history.BOOKED, actor=offer.entry.patient, now=now, to_value=SCHEDULED)
    return visit


# What only the calendar can have changed since a time was held: the rest (the notice, the horizon)
# was checked when it was offered, and the hold has kept everyone else off the time.
_CALENDAR_RULES = frozenset(("not_working_day", "outside_hours", "blocked", "closed"))


def offer_to_answer(token: str, action: str, *, now: datetime) -> WaitlistOffer:
    """The open offer an emailed link's page shows: for "Book it", only while accept() would book
    it (the page offered a button that could only fail)."""
    offer = offer_of_link(token, action, now=now)
    if action == ACCEPT and not _still_bookable(offer, now=now):
        raise InvalidInput(OFFER_EXPIRED)
    return offer


def _still_bookable(offer: WaitlistOffer, *, now, lock=False) -> bool:
    """Whether the offer's doctor is still shown and its time still on their calendar; with `lock`
    (accept) the doctor's row is share-locked, as check_bookable does."""
    doctor = availability.active_doctor(offer.doctor_id, share_lock=lock)
    return doctor is not None and not _calendar_stops(doctor, offer, now=now)


def _calendar_stops(doctor: Doctor, offer: WaitlistOffer, *, now) -> bool:
    """Whether time off, a closure or changed hours now stop the offered time: a hold does not
    stop the doctor's calendar from changing under it (the desk sees it among the bookings to
    move), and "Book it" must not then book the patient into it."""
    local = offer.starts_at.astimezone(clinic.tz())
    minute, duration = local.hour * 60 + local.minute, int((offer.ends_at - offer.starts_at).total_seconds() // 60)
    stopped = availability.rules_stopping(doctor, local.date(), minute, duration, now=now,
                                          exclude_id=offer.appointment_id, every=True)
    return any(code in _CALENDAR_RULES for code, _busy in stopped)


def decline(token: str, *, now: datetime) -> WaitlistOffer:
    """"No thanks": the hold is released and the time goes to the next entry (this one stays)."""
    with unit_of_work():
        offer = offer_of_link(token, DECLINE, now=now, lock=True)
        links.spend(links.read(token, DECLINE, now=now), now=now)
        _release(offer, DECLINED, now=now)
    return offer


def expire_offers(*, now: datetime) -> int:
    """The worker: offers whose hold has run out release their slot for the next entry."""
    with unit_of_work():
        due = db.session.scalars(select(WaitlistOffer).where(WaitlistOffer.status == OPEN,
                                                             WaitlistOffer.expires_at <= now)
                                 .order_by(WaitlistOffer.id).with_for_update(skip_locked=True)).all()
        for offer in due:
            _release(offer, EXPIRED, now=now)
    return len(due)


def _release(offer, status, *, now):
    offer.status, offer.decided_at = status, now
    if offer.appointment_id is not None:
        # (Nothing else points at a held row: the audit of a hand offer keeps its words, not a
        # link; migration 0012 unlinked the entries written before.)
        db.session.execute(delete(Appointment).where(Appointment.id == offer.appointment_id,
                                                     Appointment.status == HELD))
        offer.appointment_id = None
    time_freed(offer.doctor_id, offer.starts_at, offer.ends_at, now=now)


# ---------------------------------------------------------------------------------------------
# The desk: each doctor's queue and open offers, and a time offered by hand

TAKEN_JUST_NOW = N_("This time was just taken")


def desk_waitlist(doctors: list[Doctor], *, now: datetime):
    """([(doctor, queue, open offers)] in the order of `doctors`, {entry id: its open offer, with
    any doctor}) for the desk: two queries whatever the number of doctors, entries and offers.

    A queue is who waits for the doctor by name or by specialty, in joining order, leaving out
    entries whose last day has passed; offers come soonest slot first, and count as open until
    their hold runs out (the worker then expires them)."""
    if not doctors:
        return [], {}
    ids, specialties = [doctor.id for doctor in doctors], {doctor.specialty for doctor in doctors}
    entries = list(db.session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.status == ACTIVE, WaitlistEntry.to_date >= clinic.local_today(now),
            or_(WaitlistEntry.doctor_id.in_(ids), WaitlistEntry.specialty.in_(specialties)))
        .options(db.joinedload(WaitlistEntry.patient)).order_by(WaitlistEntry.id)))
    offers = list(db.session.scalars(
        select(WaitlistOffer).where(WaitlistOffer.status == OPEN, WaitlistOffer.expires_at > now)
        .options(db.joinedload(WaitlistOffer.entry).joinedload(WaitlistEntry.patient))
        .order_by(WaitlistOffer.starts_at, WaitlistOffer.id)))
    queues = [(doctor, [e for e in entries if e.doctor_id == doctor.id or e.specialty == doctor.specialty],
               [o for o in offers if o.doctor_id == doctor.id]) for doctor in doctors]
    return queues, {offer.entry_id: offer for offer in offers}


@retried_after_a_deadlock
def offer_by_hand(*, actor: User, entry_id, doctor_id, date, time, now: datetime) -> WaitlistOffer:
    """The desk offers a waiting patient a time by hand (one it knows has freed up), held and
    emailed as the worker's offers are.

    The actor manages the doctor (reception and admins every doctor, a doctor their own); the
    entry is waiting, for that doctor or their specialty, with no offer open; the time (clinic-local
    `date` YYYY-MM-DD and `time` HH:MM, the entry's visit type) passes every booking rule for the
    entry's patient. SlotTaken(TAKEN_JUST_NOW) if the database refuses the hold: someone booked it
    a moment ago. Audited; the visit's history names the actor too if the offer is booked."""
    # Here, not at the top: schedule imports this module.
    from clinica_web.models import ADMIN, RECEPTION
    from clinica_web.services import audit, schedule
    from clinica_web.services.errors import PatientBusy, SlotTaken

    with unit_of_work():
        doctor = availability.active_doctor(values.whole_number(doctor_id))
        if doctor is None:
            raise NotFound("Doctor not found", field="doctor_id")
        if actor.role not in (RECEPTION, ADMIN) and not schedule.can_manage(actor, doctor):
            raise NotAllowed("You can only offer your own times")
        entry = _entry_to_offer(entry_id, doctor, now=now)
        locked(User, entry.patient_id)  # as a booking: the patient first, then the doctor's share lock
        if date in (None, "") or time in (None, ""):
            raise InvalidInput("Give a day and a time (HH:MM)", field="time")
        slot = booking.parse_slot(doctor_id=doctor.id, date=date, time=time, appointment_type=entry.appointment_type)
        try:
            _doctor, start, end = booking.check_bookable(slot, patient_id=entry.patient_id, now=now, lock=True)
        except PatientBusy:
            raise PatientBusy("The patient already has a booking at this time") from None
        if not _hold(entry, doctor, start, end, now=now, offered_by=actor):
            raise SlotTaken(TAKEN_JUST_NOW)
        offer = db.session.scalars(select(WaitlistOffer).where(WaitlistOffer.entry_id == entry.id,
                                                               WaitlistOffer.status == OPEN)
                                   .order_by(WaitlistOffer.id.desc()).limit(1)).one()
        # Not linked to the held row: it is deleted when the offer ends unbooked.
        trace = dict(patient_id=entry.patient_id, detail=f"{doctor.display_name}, {clinic.format_local(start)}")
    audit.record(actor=actor, action="offered waitlist time", now=now, **trace)
    return offer


def _entry_to_offer(entry_id, doctor: Doctor, *, now) -> WaitlistEntry:
    """The entry, locked, if it waits for `doctor` (by name or specialty) with no offer open."""
    number = values.whole_number(entry_id)
    entry = locked(WaitlistEntry, number) if values.valid_id(number) else None
    if entry is None:
        raise NotFound(NOT_YOURS)
    if entry.status != ACTIVE:
        raise InvalidInput("This patient is no longer on the waitlist")
    if entry.doctor_id != doctor.id and entry.specialty != doctor.specialty:
        if entry.doctor_id:  # as describe(entry) says it, in a whole sentence each
            raise InvalidInput("This patient waits for %(wanted)s, not %(doctor)s", wanted=entry.doctor.display_name,
                               doctor=doctor.display_name)
        raise InvalidInput("This patient waits for any doctor of %(specialty)s, not %(doctor)s",
                           specialty=entry.specialty, doctor=doctor.display_name)
    open_offer = select(WaitlistOffer.id).where(WaitlistOffer.entry_id == entry.id, WaitlistOffer.status == OPEN,
                                                WaitlistOffer.expires_at > now)
    if db.session.scalar(open_offer.limit(1)) is not None:
        raise InvalidInput("A time is already on offer to this patient: wait for their answer")
    return entry
