"""The clinic appointments API (seed 000, DESIGN.md sections 7 and 10) as a staff client sees it.

Staff authenticate with `X-User-Token`. Every test talks HTTP to the app and checks what the
client receives (status, headers, JSON), plus what the patient receives (the reschedule email)
and, where the promise is about storage, the database (token digests, history rows).
"""
import hashlib
import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import ApiToken, Appointment, AppointmentChange, User
from clinica_web.services import booking, clinic, tokens
from clinica_web.services.errors import DomainError
from tests.conftest import TEST_NOW, TODAY, TZ_NAME, instant, next_weekday

TZ = ZoneInfo(TZ_NAME)
MONDAY = next_weekday(0, weeks=1)  # 8 to 14 days away: bookable
TUESDAY = MONDAY + timedelta(days=1)
SATURDAY = MONDAY + timedelta(days=5)
NOT_AUTHORIZED = {"errors": "You are not authorized to perform this action."}
NOT_FOUND = {"errors": "Appointment not found"}
BLANK = {"errors": {"scheduled_at": ["can't be blank"]}}
APPOINTMENT_FIELDS = {"id", "patient_id", "provider_id", "scheduled_at", "status", "appointment_type",
                      "duration_minutes", "notes", "created_at", "updated_at", "confirmed_at"}
INSTANT_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
PENDING = "/v1/clinic/appointments/pending_documentation"
RANGE = "/v1/clinic/appointments/in_date_range"
RESCHEDULE = "/v1/clinic/appointments/reschedule_appointments/{}"


def utc_text(day: date, hhmm: str, *, fold=0) -> str:
    """The API's instant for a local date and time, worked out here without the app."""
    local = datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), tzinfo=TZ).replace(fold=fold)
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def as_token(token):
    return {"X-User-Token": token}


@pytest.fixture
def api(client):
    """api(method, path, token, **kwargs) -> response, with the token in X-User-Token."""

    def call(method, path, token, **kwargs):
        return client.open(path, method=method.upper(), headers=as_token(token), **kwargs)

    return call


@pytest.fixture
def doctor_a(make_doctor):
    return make_doctor(with_user=True)


@pytest.fixture
def doctor_b(make_doctor):
    return make_doctor(name="Dr. Marco Bianchi", specialty="Pediatrics", with_user=True)


@pytest.fixture
def ana(make_user):
    return make_user(email="ana@example.com", full_name="Ana Torres")


@pytest.fixture
def ben(make_user):
    return make_user(email="ben@example.com", full_name="Ben Okafor")


@pytest.fixture
def desk(staff_token):
    return staff_token("reception")


@pytest.fixture
def add_appointment(app):
    """An appointment row at an exact instant (for boundaries make_appointment's local times miss)."""

    def add(*, doctor_id, patient_id, starts_at, duration=30, status="scheduled"):
        with app.app_context():
            row = Appointment(patient_id=patient_id, doctor_id=doctor_id, starts_at=starts_at,
                              ends_at=starts_at + timedelta(minutes=duration), duration_minutes=duration,
                              status=status, appointment_type="consultation", notes="")
            db.session.add(row)
            db.session.commit()
            return row.id

    return add


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [a["id"] for a in response.get_json()]


# ---------------------------------------------------------------------------------------------
# Authentication


@pytest.fixture
def some_appointment(make_appointment, doctor_a, ana):
    return make_appointment(doctor_id=doctor_a, patient_id=ana, day=MONDAY, hhmm="09:00")


def _endpoints(appointment_id):
    move = {"json": {"appointment": {"scheduled_at": utc_text(MONDAY, "10:00")}}}
    return [
        ("get", PENDING, {}),
        ("get", RANGE, {"query_string": {"start_date": "2026-01-01", "end_date": "2027-12-31"}}),
        ("put", RESCHEDULE.format(appointment_id), move),
        ("put", RESCHEDULE.format(999999), move),  # 401 before 404: ids cannot be probed without a token
    ]


BAD_TOKENS = ["missing", "empty", "blank", "wrong", "almost", "too long", "revoked", "patient", "deactivated staff",
              "doctor who left"]


@pytest.mark.parametrize("case", BAD_TOKENS)
def test_bad_or_missing_token_is_401_everywhere(client, app, staff_token, patient_api_token, some_appointment, ana,
                                                appointment_row, sent_mail, case, make_user):
    good = staff_token("reception")
    works = lambda token: client.get(PENDING, headers=as_token(token)).status_code == 200  # noqa: E731
    if case == "revoked":
        token = staff_token("admin")
        assert works(token)  # until it is revoked
        with app.app_context():
            token_id = db.session.scalars(select(ApiToken.id).order_by(ApiToken.id.desc())).first()
            tokens.revoke_api_token(token_id, now=clinic.now())
    elif case == "patient":
        token = patient_api_token(ana)
    elif case in ("deactivated staff", "doctor who left"):
        user_id = make_user(role="reception" if case == "deactivated staff" else "doctor")
        token = staff_token(user_id=user_id)
        assert works(token)  # until the account changes
        with app.app_context():
            user = db.session.get(User, user_id)
            if case == "deactivated staff":
                user.active = False
            else:
                user.role = "patient"  # an account that is no longer staff
            db.session.commit()
    else:
        token = {"missing": None, "empty": "", "blank": "   ", "wrong": "clinica_not-a-real-token",
                 "almost": good[:-1] + ("A" if good[-1] != "A" else "B"), "too long": good + "x" * 5000}[case]
    before = appointment_row(some_appointment)
    for method, path, kwargs in _endpoints(some_appointment):
        headers = {} if token is None else as_token(token)
        response = client.open(path, method=method.upper(), headers=headers, **kwargs)
        assert response.status_code == 401, (path, response.get_json())
        assert response.get_json() == NOT_AUTHORIZED
    assert appointment_row(some_appointment) == before and sent_mail() == []
    assert works(good)  # while a good token gets through


def test_a_patients_jwt_is_not_a_clinic_credential(client, jwt_for, ana):
    response = client.get(PENDING, headers={"Authorization": f"Bearer {jwt_for(ana)}"})
    assert response.status_code == 401 and response.get_json() == NOT_AUTHORIZED


@pytest.mark.parametrize("role", ["reception", "admin", "doctor"])
def test_each_staff_role_gets_in(api, staff_token, role):
    response = api("get", PENDING, staff_token(role))
    assert response.status_code == 200 and response.get_json() == []


# ---------------------------------------------------------------------------------------------
# Tokens from the command line


def test_cli_token_works_and_only_its_digest_is_stored(app, api, make_user):
    desk_id = make_user(role="reception", email="desk@example.com")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-api-token", "--email", "DESK@example.com", "--name", "Zapier"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) >= 40 and "\n" not in token
    assert api("get", PENDING, token).status_code == 200
    with app.app_context():
        [row] = db.session.scalars(select(ApiToken)).all()
        assert (row.user_id, row.name, row.revoked_at) == (desk_id, "Zapier", None)
        assert row.digest == hashlib.sha256(token.encode()).hexdigest()
        stored = [str(getattr(row, column.key)) for column in ApiToken.__table__.columns]
        assert not any(token in value for value in stored)
    # A second token is a different one; both work.
    second = runner.invoke(args=["create-api-token", "--email", "desk@example.com"]).output.strip()
    assert second != token and api("get", PENDING, second).status_code == 200


def test_cli_lists_and_revokes_tokens(app, api, make_user):
    make_user(role="admin", email="boss@example.com")
    runner = app.test_cli_runner()
    created = runner.invoke(args=["create-api-token", "--email", "boss@example.com", "--name", "Reporting"])
    token = created.output.strip()
    with app.app_context():
        token_id = db.session.scalars(select(ApiToken.id)).one()

    listed = runner.invoke(args=["list-api-tokens"])
    assert listed.exit_code == 0
    [line] = listed.output.splitlines()
    assert line.split()[:3] == [str(token_id), "boss@example.com", "Reporting"] and line.endswith("active")
    assert token not in listed.output  # the token is never shown again

    revoked = runner.invoke(args=["revoke-api-token", str(token_id)])
    assert revoked.exit_code == 0
    assert revoked.output.strip() == f"Revoked token {token_id} (Reporting) of boss@example.com."
    response = api("get", PENDING, token)
    assert response.status_code == 401 and response.get_json() == NOT_AUTHORIZED
    assert re.search(r"revoked \d{4}-\d\d-\d\d$", runner.invoke(args=["list-api-tokens"]).output.strip())
    # Revoking again is harmless; the token stays revoked.
    assert runner.invoke(args=["revoke-api-token", str(token_id)]).exit_code == 0
    assert api("get", PENDING, token).status_code == 401


@pytest.mark.parametrize(
    "args, message",
    [
        (["create-api-token", "--email", "ana@example.com"], "API tokens are for staff accounts"),
        (["create-api-token", "--email", "nobody@example.com"], "No account with email nobody@example.com"),
        (["revoke-api-token", "999999"], "API token not found"),
        (["revoke-api-token", "abc"], "abc"),
    ],
)
def test_cli_token_commands_refuse_clearly(app, ana, count, args, message):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output
    assert count(ApiToken) == 0


# ---------------------------------------------------------------------------------------------
# Pending documentation


@pytest.fixture
def pending_world(app, make_appointment, doctor_a, doctor_b, ana, ben):
    """Past and future appointments of two doctors; returns the ids of the pending ones, oldest first."""
    days_ago = lambda n: TODAY - timedelta(days=n)  # noqa: E731
    a1 = make_appointment(doctor_id=doctor_a, patient_id=ana, day=days_ago(10), hhmm="09:00")
    make_appointment(doctor_id=doctor_a, patient_id=ana, day=days_ago(4), hhmm="09:00", status="cancelled")
    make_appointment(doctor_id=doctor_a, patient_id=ben, day=days_ago(4), hhmm="10:00", status="no_show")
    documented = make_appointment(doctor_id=doctor_a, patient_id=ben, day=days_ago(6), hhmm="09:00",
                                  status="completed")
    a2 = make_appointment(doctor_id=doctor_a, patient_id=ben, day=days_ago(3), hhmm="10:00", status="completed")
    a3 = make_appointment(doctor_id=doctor_a, patient_id=ana, day=days_ago(5), hhmm="11:00", status="arrived")
    make_appointment(doctor_id=doctor_a, patient_id=ana, day=TODAY + timedelta(days=3), hhmm="09:00")
    b1 = make_appointment(doctor_id=doctor_b, patient_id=ben, day=days_ago(7), hhmm="09:00")
    b2 = make_appointment(doctor_id=doctor_b, patient_id=ana, day=days_ago(2), hhmm="14:00")
    with app.app_context():
        row = db.session.get(Appointment, documented)
        row.documentation, row.documented_at = "Knee examined; rest advised.", clinic.now()
        db.session.commit()
    return {"all": [a1, b1, a3, a2, b2], "a": [a1, a3, a2], "b": [b1, b2]}


def test_pending_documentation_definition_and_order(api, desk, pending_world):
    response = api("get", PENDING, desk)
    assert ids(response) == pending_world["all"]
    assert response.headers["X-Total-Count"] == "5"
    assert {a["status"] for a in response.get_json()} == {"scheduled", "arrived", "completed"}


def test_pending_documentation_starts_when_the_visit_starts(api, desk, doctor_a, ana, add_appointment):
    now = TEST_NOW
    started = add_appointment(doctor_id=doctor_a, patient_id=ana, starts_at=now - timedelta(minutes=5), duration=60)
    add_appointment(doctor_id=doctor_a, patient_id=ana, starts_at=now + timedelta(hours=2))
    assert ids(api("get", PENDING, desk)) == [started]


def test_documenting_an_appointment_takes_it_off_the_list(app, api, desk, pending_world):
    with app.app_context():
        db.session.get(Appointment, pending_world["all"][0]).documentation = "Done"
        db.session.commit()
    response = api("get", PENDING, desk)
    assert ids(response) == pending_world["all"][1:] and response.headers["X-Total-Count"] == "4"


def links(response) -> dict:
    """{rel: (page, page_size)} from the Link header."""
    found = {}
    for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"]):
        parts = urlsplit(url)
        assert parts.path == PENDING
        query = parse_qs(parts.query)
        found[rel] = (int(query["page"][0]), int(query["page_size"][0]))
    return found


def test_pending_documentation_pages_and_links(api, client, desk, pending_world):
    expected = pending_world["all"]
    first = api("get", PENDING, desk, query_string={"page_size": 2})
    assert ids(first) == expected[:2] and first.headers["X-Total-Count"] == "5"
    assert links(first) == {"first": (1, 2), "next": (2, 2), "last": (3, 2)}

    middle = api("get", PENDING, desk, query_string={"page": 2, "page_size": 2})
    assert ids(middle) == expected[2:4] and middle.headers["X-Total-Count"] == "5"
    assert links(middle) == {"first": (1, 2), "prev": (1, 2), "next": (3, 2), "last": (3, 2)}

    last = api("get", PENDING, desk, query_string={"page": 3, "page_size": 2})
    assert ids(last) == expected[4:]
    assert links(last) == {"first": (1, 2), "prev": (2, 2), "last": (3, 2)}

    # Following "next" from the first page visits every appointment once, in order.
    seen, response = [], first
    while True:
        seen += ids(response)
        next_link = re.search(r'<([^>]+)>; rel="next"', response.headers["Link"])
        if not next_link:
            break
        parts = urlsplit(next_link[1])
        response = client.get(f"{parts.path}?{parts.query}", headers=as_token(desk))
    assert seen == expected


def test_a_page_past_the_end_is_empty_not_an_error(api, desk, pending_world):
    response = api("get", PENDING, desk, query_string={"page": 4, "page_size": 2})
    assert response.status_code == 200 and response.get_json() == []
    assert response.headers["X-Total-Count"] == "5"
    # "prev" leads back to the last page that has something.
    assert links(response) == {"first": (1, 2), "prev": (3, 2), "last": (3, 2)}
    far = api("get", PENDING, desk, query_string={"page": 1000})
    assert far.status_code == 200 and far.get_json() == [] and far.headers["X-Total-Count"] == "5"
    assert links(far) == {"first": (1, 25), "prev": (1, 25), "last": (1, 25)}


def test_nothing_pending(api, desk):
    response = api("get", PENDING, desk)
    assert response.status_code == 200 and response.get_json() == []
    assert response.headers["X-Total-Count"] == "0"
    assert links(response) == {"first": (1, 25), "last": (1, 25)}


@pytest.mark.parametrize("page_size, expected_count, last_page", [("1", 1, 5), ("100", 5, 1), ("", 5, 1)])
def test_page_size_bounds(api, desk, pending_world, page_size, expected_count, last_page):
    response = api("get", PENDING, desk, query_string={"page_size": page_size})
    assert ids(response) == pending_world["all"][:expected_count]
    assert links(response)["last"][0] == last_page


def test_default_page_size_is_25(api, desk, make_appointment, doctor_a, ana):
    for n in range(26):
        make_appointment(doctor_id=doctor_a, patient_id=ana, day=TODAY - timedelta(days=30 - n), hhmm="09:00")
    response = api("get", PENDING, desk)
    assert len(response.get_json()) == 25 and response.headers["X-Total-Count"] == "26"
    assert links(response) == {"first": (1, 25), "next": (2, 25), "last": (2, 25)}
    assert len(api("get", PENDING, desk, query_string={"page": 2}).get_json()) == 1


@pytest.mark.parametrize(
    "field, value",
    [("page", "0"), ("page", "-1"), ("page", "abc"), ("page", "1.5"), ("page", "9" * 30), ("page", " 1"),
     ("page", "\u00b2"), ("page", "\u0661"), ("page_size", "\u00b2"),
     ("page_size", "0"), ("page_size", "101"), ("page_size", "abc"), ("page_size", "-5"), ("page_size", "1e2"),
     ("page_size", "9" * 30)],
)
def test_bad_paging_is_422_on_that_field(api, desk, field, value):
    response = api("get", PENDING, desk, query_string={field: value})
    assert response.status_code == 422
    body = response.get_json()
    assert list(body) == ["errors"] and list(body["errors"]) == [field]
    assert body["errors"][field] and all(isinstance(m, str) and m for m in body["errors"][field])


@pytest.mark.parametrize("role, scope", [("doctor_a", "a"), ("doctor_b", "b"), ("reception", "all"), ("admin", "all")])
def test_pending_documentation_scope_by_role(api, staff_token, pending_world, doctor_a, doctor_b, role, scope):
    token = {"doctor_a": lambda: staff_token(doctor_id=doctor_a), "doctor_b": lambda: staff_token(doctor_id=doctor_b)
             }.get(role, lambda: staff_token(role))()
    response = api("get", PENDING, token)
    assert ids(response) == pending_world[scope]
    assert response.headers["X-Total-Count"] == str(len(pending_world[scope]))


def test_a_doctor_login_without_a_doctor_profile_sees_nothing(api, staff_token, pending_world):
    response = api("get", PENDING, staff_token("doctor"))
    assert response.status_code == 200 and response.get_json() == [] and response.headers["X-Total-Count"] == "0"


def test_appointment_object_has_exactly_the_seed_fields_and_confirmed_at(app, api, desk, pending_world, doctor_a, ana):
    first = api("get", PENDING, desk).get_json()[0]
    assert set(first) == APPOINTMENT_FIELDS
    with app.app_context():
        row = db.session.get(Appointment, first["id"])
        expected_start = utc_text(clinic.to_local(row.starts_at).date(), "09:00")
    assert first == {
        "id": pending_world["all"][0], "patient_id": ana, "provider_id": doctor_a, "scheduled_at": expected_start,
        "status": "scheduled", "appointment_type": "consultation", "duration_minutes": 30, "notes": "",
        "created_at": first["created_at"], "updated_at": first["updated_at"], "confirmed_at": None,
    }
    assert INSTANT_FORMAT.fullmatch(first["created_at"]) and INSTANT_FORMAT.fullmatch(first["updated_at"])


# ---------------------------------------------------------------------------------------------
# In date range

DAY = date(2026, 12, 9)  # a Wednesday in summer time (UTC-3); the endpoint does not depend on today


@pytest.fixture
def range_world(make_appointment, doctor_a, doctor_b, ana, ben):
    """Appointments around DAY, created out of time order."""
    rows = {
        "day_0900": make_appointment(doctor_id=doctor_a, patient_id=ana, day=DAY, hhmm="09:00"),
        "day_0800": make_appointment(doctor_id=doctor_b, patient_id=ben, day=DAY, hhmm="08:00"),
        "day_2330": make_appointment(doctor_id=doctor_a, patient_id=ben, day=DAY, hhmm="23:30"),  # 02:30Z next day
        "next_0000": make_appointment(doctor_id=doctor_a, patient_id=ana, day=DAY + timedelta(days=1), hhmm="00:00"),
        # 02:45Z on DAY: the UTC date is DAY, the local one is not. 15 minutes: Ana is at day_0000 next.
        "prev_2345": make_appointment(doctor_id=doctor_b, patient_id=ana, day=DAY - timedelta(days=1),
                                      hhmm="23:45", duration=15),
        "day_0000": make_appointment(doctor_id=doctor_a, patient_id=ana, day=DAY, hhmm="00:00"),
    }
    return rows


def in_range(api, token, **params):
    return api("get", RANGE, token, query_string=params)


def test_a_date_only_range_is_whole_local_days_in_time_order(api, desk, range_world):
    r = range_world
    one_day = in_range(api, desk, start_date=DAY.isoformat(), end_date=DAY.isoformat())
    assert ids(one_day) == [r["day_0000"], r["day_0800"], r["day_0900"], r["day_2330"]]
    three_days = in_range(api, desk, start_date=(DAY - timedelta(days=1)).isoformat(),
                          end_date=(DAY + timedelta(days=1)).isoformat())
    assert ids(three_days) == [r["prev_2345"], r["day_0000"], r["day_0800"], r["day_0900"], r["day_2330"],
                               r["next_0000"]]
    scheduled = [a["scheduled_at"] for a in three_days.get_json()]
    assert scheduled == sorted(scheduled) and all(INSTANT_FORMAT.fullmatch(s) for s in scheduled)
    assert three_days.get_json()[4]["scheduled_at"] == utc_text(DAY, "23:30") == "2026-12-10T02:30:00.000Z"


def test_range_objects_have_exactly_the_seed_fields(api, desk, range_world, doctor_a, ana):
    [first] = [a for a in in_range(api, desk, start_date=DAY.isoformat(), end_date=DAY.isoformat()).get_json()
               if a["id"] == range_world["day_0900"]]
    assert set(first) == APPOINTMENT_FIELDS
    assert {k: first[k] for k in ("patient_id", "provider_id", "scheduled_at", "status", "duration_minutes")} == {
        "patient_id": ana, "provider_id": doctor_a, "scheduled_at": "2026-12-09T12:00:00.000Z", "status": "scheduled",
        "duration_minutes": 30}


@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("2026-12-09T11:00:00Z", "2026-12-09T12:00:00Z", ["day_0800", "day_0900"]),  # both ends inclusive
        ("2026-12-09T11:00:00.000Z", "2026-12-09T11:59:59.999Z", ["day_0800"]),
        ("2026-12-09T13:00:00+02:00", "2026-12-09T14:00:00+02:00", ["day_0800", "day_0900"]),
        ("2026-12-09T08:00:00-03:00", "2026-12-09T09:00:00-03:00", ["day_0800", "day_0900"]),
        ("2026-12-09T08:00:00", "2026-12-09T09:00", ["day_0800", "day_0900"]),  # no offset: clinic-local
        ("2026-12-09T08:30:00", "2026-12-09", ["day_0900", "day_2330"]),  # a date-only end is the whole day
        ("2026-12-09", "2026-12-09T08:00:00-03:00", ["day_0000", "day_0800"]),
        ("2026-12-09T08:30:00", "20261209", ["day_0900", "day_2330"]),  # a date in the basic format too
        ("2026-12-09T08:30:00", "2026-W50-3", ["day_0900", "day_2330"]),  # and as a week date
        ("20261209", "2026-12-09T08:00:00-03:00", ["day_0000", "day_0800"]),
        ("2026-12-10T02:00:00Z", "2026-12-10T03:00:00Z", ["day_2330", "next_0000"]),
    ],
)
def test_datetimes_with_and_without_offsets(api, desk, range_world, start, end, expected):
    response = in_range(api, desk, start_date=start, end_date=end)
    assert ids(response) == [range_world[name] for name in expected]


def test_an_unencoded_plus_in_the_query_string_still_means_an_offset(client, desk, range_world):
    """'+02:00' typed into a URL arrives as ' 02:00' (a + is a space in a query string)."""
    url = f"{RANGE}?start_date=2026-12-09T13:00:00+02:00&end_date=2026-12-09T14:00:00+02:00"
    assert ids(client.get(url, headers=as_token(desk))) == [range_world["day_0800"], range_world["day_0900"]]


def test_provider_and_patient_filters(api, desk, range_world, doctor_a, doctor_b, ana, ben):
    r = range_world
    span = {"start_date": "2026-12-08", "end_date": "2026-12-10"}
    expected = [r["day_0000"], r["day_0900"], r["day_2330"], r["next_0000"]]
    assert ids(in_range(api, desk, provider_id=doctor_a, **span)) == expected
    assert ids(in_range(api, desk, patient_id=ben, **span)) == [r["day_0800"], r["day_2330"]]
    assert ids(in_range(api, desk, provider_id=doctor_a, patient_id=ben, **span)) == [r["day_2330"]]
    assert ids(in_range(api, desk, provider_id=doctor_b, patient_id=ana, **span)) == [r["prev_2345"]]
    assert ids(in_range(api, desk, provider_id=999999, **span)) == []
    assert ids(in_range(api, desk, provider_id="", patient_id="", **span)) == ids(in_range(api, desk, **span))


@pytest.mark.parametrize("field", ["provider_id", "patient_id"])
@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "9" * 30, "1;DROP TABLE users", "\u0661", "\u00b2"])
def test_invalid_filters_are_422(api, desk, field, value):
    response = in_range(api, desk, start_date="2026-12-01", end_date="2026-12-31", **{field: value})
    assert response.status_code == 422
    assert response.get_json() == {"errors": {field: ["is invalid"]}}


@pytest.mark.parametrize(
    "params, errors",
    [
        ({"end_date": "2026-12-31"}, {"start_date": ["can't be blank"]}),
        ({"start_date": "2026-12-01"}, {"end_date": ["can't be blank"]}),
        ({}, {"start_date": ["can't be blank"], "end_date": ["can't be blank"]}),
        ({"start_date": "", "end_date": "2026-12-31"}, {"start_date": ["can't be blank"]}),
        ({"start_date": "   ", "end_date": "2026-12-31"}, {"start_date": ["can't be blank"]}),
        ({"start_date": "2026-13-01", "end_date": "2026-12-31"}, {"start_date": ["is invalid"]}),
        ({"start_date": "2026-02-30", "end_date": "2026-12-31"}, {"start_date": ["is invalid"]}),
        ({"start_date": "tomorrow", "end_date": "2026-12-31"}, {"start_date": ["is invalid"]}),
        ({"start_date": "12/01/2026", "end_date": "2026-12-31"}, {"start_date": ["is invalid"]}),
        ({"start_date": "2026-12-01T25:00:00Z", "end_date": "2026-12-31"}, {"start_date": ["is invalid"]}),
        ({"start_date": "2026-12-01", "end_date": "2026-12-31T10:00:00+25:00"}, {"end_date": ["is invalid"]}),
        ({"start_date": "2026-12-01", "end_date": "x" * 1000}, {"end_date": ["is invalid"]}),
        ({"start_date": "2026-12-01\x00", "end_date": "2026-12-31"}, {"start_date": ["is invalid"]}),
        ({"start_date": "nope", "end_date": ""}, {"start_date": ["is invalid"], "end_date": ["can't be blank"]}),
        ({"start_date": "2026-12-01", "end_date": "2026-12-31", "provider_id": "x"}, {"provider_id": ["is invalid"]}),
    ],
)
def test_missing_or_unparsable_dates_are_422(api, desk, params, errors):
    response = in_range(api, desk, **params)
    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}


@pytest.mark.parametrize(
    "start, end",
    [("2026-12-10", "2026-12-09"), ("2026-12-09T12:00:00Z", "2026-12-09T11:59:59Z"),
     ("2026-12-09T10:00:00Z", "2026-12-09T12:00:00+03:00")],
)
def test_end_before_start_is_422(api, desk, start, end):
    response = in_range(api, desk, start_date=start, end_date=end)
    assert response.status_code == 422
    body = response.get_json()["errors"]
    assert list(body) == ["end_date"] and body["end_date"] and isinstance(body["end_date"][0], str)


@pytest.mark.parametrize(
    "start, end",
    [("0001-01-01", "9999-12-31"), ("0001-01-01T00:00:00+05:00", "2026-12-31"), ("2026-01-01", "9999-12-31T23:59:59Z"),
     ("1900-01-01", "2100-01-01")],
)
def test_extreme_dates_never_break_the_server(api, desk, range_world, start, end):
    response = in_range(api, desk, start_date=start, end_date=end)
    assert response.status_code in (200, 422), response.status_code
    if response.status_code == 200:
        assert len(response.get_json()) == len(range_world)
    else:
        assert set(response.get_json()["errors"]) <= {"start_date", "end_date"}


def test_same_day_start_and_end_is_that_local_day(api, desk, range_world):
    """DAY 23:30 local is already 2026-12-10 in UTC, but belongs to DAY; the 10th starts at local midnight."""
    response = in_range(api, desk, start_date="2026-12-10", end_date="2026-12-10")
    assert ids(response) == [range_world["next_0000"]]


def test_a_doctor_sees_only_their_own_in_range(api, staff_token, range_world, doctor_a, doctor_b):
    token = staff_token(doctor_id=doctor_b)
    span = {"start_date": "2026-12-08", "end_date": "2026-12-10"}
    assert ids(in_range(api, token, **span)) == [range_world["prev_2345"], range_world["day_0800"]]
    assert ids(in_range(api, token, provider_id=doctor_a, **span)) == []


def test_fall_back_day_has_25_hours(api, desk, make_appointment, add_appointment, doctor_a, ana):
    """2026-04-04 in Santiago: at midnight the clocks go back to 23:00, so 23:00-24:00 happens twice
    (first at -03, then at -04) and the local day lasts from 03:00Z to 04:00Z the next day."""
    day, next_day = date(2026, 4, 4), date(2026, 4, 5)
    before = make_appointment(doctor_id=doctor_a, patient_id=ana, day=date(2026, 4, 3), hhmm="23:30")
    midnight = make_appointment(doctor_id=doctor_a, patient_id=ana, day=day, hhmm="00:00")
    evening = make_appointment(doctor_id=doctor_a, patient_id=ana, day=day, hhmm="22:00")
    first_2330 = make_appointment(doctor_id=doctor_a, patient_id=ana, day=day, hhmm="23:30")
    second_2330 = add_appointment(doctor_id=doctor_a, patient_id=ana,
                                  starts_at=datetime(2026, 4, 5, 3, 30, tzinfo=timezone.utc))
    after = make_appointment(doctor_id=doctor_a, patient_id=ana, day=next_day, hhmm="00:00")

    response = in_range(api, desk, start_date=day.isoformat(), end_date=day.isoformat())
    assert ids(response) == [midnight, evening, first_2330, second_2330]
    assert [a["scheduled_at"] for a in response.get_json()] == [
        "2026-04-04T03:00:00.000Z", "2026-04-05T01:00:00.000Z", "2026-04-05T02:30:00.000Z", "2026-04-05T03:30:00.000Z"]
    assert utc_text(day, "23:30") == "2026-04-05T02:30:00.000Z"  # the first occurrence
    assert ids(in_range(api, desk, start_date=next_day.isoformat(), end_date=next_day.isoformat())) == [after]
    assert in_range(api, desk, start_date=next_day.isoformat(),
                    end_date=next_day.isoformat()).get_json()[0]["scheduled_at"] == "2026-04-05T04:00:00.000Z"
    assert before not in ids(response)


def test_spring_forward_day_has_23_hours(api, desk, make_appointment, doctor_a, ana):
    """2026-09-06 in Santiago: local midnight does not exist (00:00 -04 jumps to 01:00 -03), so
    that day starts at 01:00 local = 04:00Z, and 2026-09-05 runs until then."""
    sept5, sept6 = date(2026, 9, 5), date(2026, 9, 6)
    sept5_start = make_appointment(doctor_id=doctor_a, patient_id=ana, day=sept5, hhmm="00:00")
    sept5_late = make_appointment(doctor_id=doctor_a, patient_id=ana, day=sept5, hhmm="23:30")
    sept6_first = make_appointment(doctor_id=doctor_a, patient_id=ana, day=sept6, hhmm="01:00")
    sept6_noon = make_appointment(doctor_id=doctor_a, patient_id=ana, day=sept6, hhmm="12:00")

    first = in_range(api, desk, start_date=sept5.isoformat(), end_date=sept5.isoformat())
    assert ids(first) == [sept5_start, sept5_late]
    assert [a["scheduled_at"] for a in first.get_json()] == ["2026-09-05T04:00:00.000Z", "2026-09-06T03:30:00.000Z"]
    second = in_range(api, desk, start_date=sept6.isoformat(), end_date=sept6.isoformat())
    assert ids(second) == [sept6_first, sept6_noon]
    assert [a["scheduled_at"] for a in second.get_json()] == ["2026-09-06T04:00:00.000Z", "2026-09-06T15:00:00.000Z"]
    both = in_range(api, desk, start_date=sept5.isoformat(), end_date=sept6.isoformat())
    assert ids(both) == [sept5_start, sept5_late, sept6_first, sept6_noon]


# ---------------------------------------------------------------------------------------------
# Reschedule


@pytest.fixture
def booked(app, doctor_a, ana):
    """Ana's 60-minute therapy with doctor A on MONDAY 09:00, booked through the booking service
    (so the patient already has the booking email)."""
    with app.app_context():
        patient = db.session.get(User, ana)
        return booking.book(actor=patient, patient=patient, doctor_id=doctor_a, date=MONDAY.isoformat(), time="09:00",
                            appointment_type="therapy", notes="Lower back pain", now=clinic.now()).id


def reschedule(api, token, appointment_id, **fields):
    return api("put", RESCHEDULE.format(appointment_id), token, json={"appointment": fields})


def event_of(message):
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    return calendar, event


def history(app, appointment_id):
    with app.app_context():
        return [(c.kind, c.reason, c.actor_id) for c in db.session.scalars(
            select(AppointmentChange).where(AppointmentChange.appointment_id == appointment_id)
            .order_by(AppointmentChange.id))]


def test_reschedule_moves_records_and_emails(app, api, desk, booked, doctor_a, ana, sent_mail):
    [booked_mail] = sent_mail()
    response = reschedule(api, desk, booked, scheduled_at=utc_text(MONDAY, "11:00"), reason="Doctor running late")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == APPOINTMENT_FIELDS
    assert body["id"] == booked and body["scheduled_at"] == utc_text(MONDAY, "11:00")
    assert (body["provider_id"], body["patient_id"], body["duration_minutes"], body["status"]) == (
        doctor_a, ana, 60, "scheduled")
    assert body["appointment_type"] == "therapy" and body["notes"] == "Lower back pain"
    assert body["updated_at"] >= body["created_at"] and INSTANT_FORMAT.fullmatch(body["updated_at"])

    with app.app_context():
        row = db.session.get(Appointment, booked)
        assert (row.starts_at, row.ends_at, row.sequence) == (instant(MONDAY, "11:00"), instant(MONDAY, "12:00"), 1)
        desk_user = db.session.scalars(select(ApiToken.user_id)).one()
    assert history(app, booked)[-1] == ("rescheduled", "Doctor running late", desk_user)

    _, rescheduled_mail = sent_mail()
    assert rescheduled_mail["To"] == "ana@example.com"
    calendar, event = event_of(rescheduled_mail)
    _, booked_event = event_of(booked_mail)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == str(booked_event["UID"]) and str(event["UID"]).startswith(f"appointment-{booked}@")
    assert int(event["SEQUENCE"]) == 1 and int(booked_event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == instant(MONDAY, "11:00")
    assert "Lower back pain" not in rescheduled_mail.as_string() and "running late" not in rescheduled_mail.as_string()


def test_reschedule_frees_the_old_time_and_takes_the_new_one(api, desk, booked, doctor_a, client, bearer, make_user):
    assert reschedule(api, desk, booked, scheduled_at=utc_text(MONDAY, "11:00")).status_code == 200
    headers = bearer(make_user(email="ben@example.com"))
    times = client.get("/v1/bookings/available-slots", headers=headers,
                       query_string={"doctor_id": doctor_a, "date": MONDAY.isoformat()}).get_json()
    assert "09:00" in times and "11:00" not in times and "11:30" not in times


def test_reschedule_twice_raises_the_sequence_again(api, desk, booked, sent_mail):
    assert reschedule(api, desk, booked, scheduled_at=utc_text(MONDAY, "11:00")).status_code == 200
    assert reschedule(api, desk, booked, scheduled_at=utc_text(TUESDAY, "14:00")).status_code == 200
    _, event = event_of(sent_mail()[-1])
    assert int(event["SEQUENCE"]) == 2 and event.decoded("DTSTART") == instant(TUESDAY, "14:00")


def test_reschedule_to_another_provider(app, api, desk, booked, doctor_b, staff_token, sent_mail):
    response = reschedule(api, desk, booked, provider_id=doctor_b, reason="Dr. Rossi is ill")
    assert response.status_code == 200
    body = response.get_json()
    assert body["provider_id"] == doctor_b and body["scheduled_at"] == utc_text(MONDAY, "09:00")
    assert history(app, booked)[-1][:2] == ("rescheduled", "Dr. Rossi is ill")
    assert len(sent_mail()) == 2
    # Now doctor B sees it.
    span = {"start_date": MONDAY.isoformat(), "end_date": MONDAY.isoformat()}
    assert ids(in_range(api, staff_token(doctor_id=doctor_b), **span)) == [booked]


def test_reschedule_time_and_provider_at_once(api, desk, booked, doctor_b):
    response = reschedule(api, desk, booked, scheduled_at=utc_text(TUESDAY, "15:00"), provider_id=doctor_b)
    assert response.status_code == 200
    assert (response.get_json()["provider_id"], response.get_json()["scheduled_at"]) == (
        doctor_b, utc_text(TUESDAY, "15:00"))


@pytest.mark.parametrize("hhmm", ["09:30", "09:15", "09:45"])
def test_rescheduling_over_its_own_current_time(app, api, desk, booked, hhmm):
    """09:00-10:00 moved 30 minutes later overlaps only itself: the appointment is left out of its
    own overlap check (in the service and in the database's constraint)."""
    response = reschedule(api, desk, booked, scheduled_at=utc_text(MONDAY, hhmm))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scheduled_at"] == utc_text(MONDAY, hhmm)
    with app.app_context():
        row = db.session.get(Appointment, booked)
        assert (row.starts_at, row.ends_at) == (instant(MONDAY, hhmm), instant(MONDAY, hhmm) + timedelta(hours=1))


def test_rescheduling_to_the_same_time_changes_nothing(app, api, desk, booked, sent_mail, appointment_row):
    before = appointment_row(booked)
    response = reschedule(api, desk, booked, scheduled_at=utc_text(MONDAY, "09:00"))
    assert response.status_code == 200 and response.get_json()["scheduled_at"] == utc_text(MONDAY, "09:00")
    assert appointment_row(booked) == before and len(sent_mail()) == 1
    assert [kind for kind, _, _ in history(app, booked)] == ["booked"]


@pytest.mark.parametrize("scheduled_at", ["LOCAL", "+02:00", "Z-no-millis"])
def test_scheduled_at_accepts_iso_8601_forms(api, desk, booked, scheduled_at):
    plus_two = instant(MONDAY, "11:00").astimezone(timezone(timedelta(hours=2)))  # 16:00 or 17:00
    value = {"LOCAL": f"{MONDAY}T11:00:00", "+02:00": plus_two.isoformat(),
             "Z-no-millis": utc_text(MONDAY, "11:00").replace(".000", "")}[scheduled_at]
    response = reschedule(api, desk, booked, scheduled_at=value)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scheduled_at"] == utc_text(MONDAY, "11:00")


def test_a_doctor_reschedules_only_their_own(api, staff_token, booked, doctor_a, doctor_b, appointment_row, sent_mail):
    before = appointment_row(booked)
    other = reschedule(api, staff_token(doctor_id=doctor_b), booked, scheduled_at=utc_text(MONDAY, "11:00"))
    assert other.status_code == 404 and other.get_json() == NOT_FOUND
    assert appointment_row(booked) == before and len(sent_mail()) == 1
    own = reschedule(api, staff_token(doctor_id=doctor_a), booked, scheduled_at=utc_text(MONDAY, "11:00"))
    assert own.status_code == 200


def test_a_doctor_moves_a_visit_within_their_own_calendar_only(api, staff_token, booked, doctor_b, appointment_row,
                                                               sent_mail):
    """Into a colleague's calendar (which the doctor may not see) is the desk's to do."""
    before = appointment_row(booked)
    response = reschedule(api, staff_token(doctor_id=before["doctor_id"]), booked, provider_id=doctor_b)
    assert response.status_code == 422 and response.get_json() == {
        "errors": {"provider_id": ["A doctor moves a visit within their own calendar only"]}}
    assert appointment_row(booked) == before and len(sent_mail()) == 1


@pytest.mark.parametrize("appointment_id", [999999, 2**31 - 1, 2**31, 10**30])
def test_unknown_appointment_is_404(api, desk, booked, appointment_id):
    response = reschedule(api, desk, appointment_id, scheduled_at=utc_text(MONDAY, "11:00"))
    assert response.status_code == 404 and response.get_json() == NOT_FOUND


@pytest.mark.parametrize("path_id", ["abc", "-1", "1.5"])
def test_a_malformed_id_is_a_json_404(api, desk, path_id):
    response = api("put", RESCHEDULE.format(path_id), desk, json={"appointment": {"provider_id": 1}})
    assert response.status_code == 404 and set(response.get_json()) == {"errors"}


@pytest.mark.parametrize(
    "body",
    [{}, {"appointment": {}}, {"appointment": None}, {"appointment": "2026-12-01T10:00:00Z"}, {"appointment": []},
     {"appointment": {"reason": "Just because"}}, {"appointment": {"scheduled_at": ""}},
     {"appointment": {"scheduled_at": None, "provider_id": None}},
     {"scheduled_at": "2026-12-01T10:00:00Z", "provider_id": 1}],  # fields outside "appointment"
)
def test_nothing_to_change_is_422_blank(api, desk, booked, appointment_row, body):
    before = appointment_row(booked)
    response = api("put", RESCHEDULE.format(booked), desk, json=body)
    assert response.status_code == 422 and response.get_json() == BLANK
    assert appointment_row(booked) == before


@pytest.mark.parametrize(
    "fields, errors",
    [
        ({"provider_id": 999999}, {"provider_id": ["must exist"]}),
        ({"provider_id": 10**30}, {"provider_id": ["must exist"]}),
        ({"provider_id": "INACTIVE"}, {"provider_id": ["must exist"]}),
        ({"provider_id": "abc"}, {"provider_id": ["is invalid"]}),
        ({"provider_id": True}, {"provider_id": ["is invalid"]}),
        ({"provider_id": 1.5}, {"provider_id": ["is invalid"]}),
        ({"scheduled_at": "next tuesday"}, {"scheduled_at": ["is invalid"]}),
        ({"scheduled_at": "2026-13-01T10:00:00Z"}, {"scheduled_at": ["is invalid"]}),
        ({"scheduled_at": 1795000000}, {"scheduled_at": ["is invalid"]}),
        ({"scheduled_at": ["MONDAY 11:00"]}, {"scheduled_at": ["is invalid"]}),
        ({"scheduled_at": "MONDAY 11:00", "reason": "r" * 501}, {"reason": ["must be text of at most 500 characters"]}),
        ({"scheduled_at": "MONDAY 11:00", "reason": 42}, {"reason": ["must be text of at most 500 characters"]}),
        ({"scheduled_at": "MONDAY 08:00"}, {"scheduled_at": ["Outside doctor availability"]}),
        ({"scheduled_at": "MONDAY 12:30"}, {"scheduled_at": ["Outside doctor availability"]}),  # ends 13:30
        ({"scheduled_at": "MONDAY 09:10"}, {"scheduled_at": ["Outside doctor availability"]}),  # off the grid
        ({"scheduled_at": "SATURDAY 10:00"}, {"scheduled_at": ["Doctor not available on this day"]}),
        ({"scheduled_at": "MONDAY 15:00"}, {"scheduled_at": ["Time blocked by doctor"]}),
        ({"scheduled_at": "MONDAY 14:00"}, {"scheduled_at": ["Time blocked by doctor"]}),  # runs into the block
        ({"scheduled_at": "TUESDAY 09:30"}, {"scheduled_at": ["Time slot overlaps with another booking"]}),
        ({"scheduled_at": "TUESDAY 08:45"}, {"scheduled_at": ["Outside doctor availability"]}),
        ({"scheduled_at": "YESTERDAY 10:00"}, {"scheduled_at": ["Date must be in the future"]}),
        ({"scheduled_at": "BEYOND 10:00"}, {"scheduled_at": ["Date is beyond the booking horizon"]}),
        ({"scheduled_at": "TUESDAY 14:00"}, {"scheduled_at": ["You already have a booking at this time"]}),
        ({"scheduled_at": "MONDAY 10:00", "provider_id": "WEDNESDAY_ONLY"},
         {"scheduled_at": ["Doctor not available on this day"]}),
    ],
)
def test_each_rule_refuses_with_422_and_changes_nothing(api, desk, booked, make_doctor, make_user, make_appointment,
                                                        make_block, doctor_a, ana, appointment_row, sent_mail, app,
                                                        fields, errors):
    # The state: a block on MONDAY 14:30-16:00, another patient on TUESDAY 10:00, Ana herself
    # with another doctor on TUESDAY 14:00.
    make_block(doctor_id=doctor_a, start=instant(MONDAY, "14:30"), end=instant(MONDAY, "16:00"))
    make_appointment(doctor_id=doctor_a, patient_id=make_user(), day=TUESDAY, hhmm="10:00")
    make_appointment(doctor_id=make_doctor(name="Dr. Other", specialty="Dermatology"), patient_id=ana, day=TUESDAY,
                     hhmm="14:00")
    days = {"MONDAY": MONDAY, "TUESDAY": TUESDAY, "SATURDAY": SATURDAY, "YESTERDAY": TODAY - timedelta(days=1),
            "BEYOND": TODAY + timedelta(days=120)}
    doctors = {"INACTIVE": lambda: make_doctor(name="Dr. Gone", active=False),
               "WEDNESDAY_ONLY": lambda: make_doctor(name="Dr. Wed", weekdays=(2,))}

    def resolve(value):
        if isinstance(value, str) and value in doctors:
            return doctors[value]()
        if isinstance(value, str) and value.split(" ")[0] in days:
            word, hhmm = value.split(" ")
            return utc_text(days[word], hhmm)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    fields = {key: resolve(value) for key, value in fields.items()}
    before, mails, changes = appointment_row(booked), len(sent_mail()), history(app, booked)
    response = reschedule(api, desk, booked, **fields)
    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}
    assert appointment_row(booked) == before and len(sent_mail()) == mails and history(app, booked) == changes


def test_seconds_or_the_second_1130_are_not_on_the_grid(api, desk, booked):
    response = reschedule(api, desk, booked, scheduled_at=utc_text(MONDAY, "11:00").replace(":00.000Z", ":30.000Z"))
    assert response.status_code == 422
    assert response.get_json() == {"errors": {"scheduled_at": ["Outside doctor availability"]}}


def test_a_cancelled_appointment_cannot_be_rescheduled(app, api, desk, booked, ana, appointment_row):
    with app.app_context():
        booking.cancel_by_patient(patient=db.session.get(User, ana), appointment_id=booked, now=clinic.now())
    before = appointment_row(booked)
    response = reschedule(api, desk, booked, scheduled_at=utc_text(MONDAY, "11:00"))
    assert response.status_code == 422
    assert response.get_json() == {"errors": {"scheduled_at": ["Only scheduled appointments can be rescheduled"]}}
    assert appointment_row(booked) == before


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"data": "appointment[scheduled_at]=2026-12-01T10:00:00Z",
          "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"data": '{"appointment": {"provider_id": 1}}', "content_type": "text/plain"}, 415),
        ({}, 415),
        ({"data": "{broken", "content_type": "application/json"}, 400),
        ({"data": "[]", "content_type": "application/json"}, 400),
        ({"data": "null", "content_type": "application/json"}, 400),
        ({"data": '{"appointment": {"reason": "\\u0000"}}', "content_type": "application/json"}, 400),
        ({"data": "[" * 50_000 + "]" * 50_000, "content_type": "application/json"}, 400),
    ],
    ids=["form", "text", "no-body", "broken", "array", "null", "nul", "deep"],
)
def test_a_body_that_is_not_a_json_object_is_a_json_4xx(client, desk, booked, appointment_row, kwargs, status):
    before = appointment_row(booked)
    response = client.put(RESCHEDULE.format(booked), headers=as_token(desk), **kwargs)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"errors"} and isinstance(body["errors"], str) and body["errors"]
    assert appointment_row(booked) == before


def test_clinic_api_routing_errors_are_in_its_format(api, desk):
    response = api("delete", RESCHEDULE.format(1), desk)
    assert response.status_code == 405 and set(response.get_json()) == {"errors"}
    missing = api("get", "/v1/clinic/appointments/nothing", desk)
    assert missing.status_code == 404 and set(missing.get_json()) == {"errors"}


# ---------------------------------------------------------------------------------------------
# The explainer: why a time can or cannot be booked (DESIGN.md sections 14 and 17)

EXPLAIN = "/v1/clinic/availability/explain"


def explain(api, token, **params):
    response = api("get", EXPLAIN, token, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_explain_says_a_free_time_is_bookable(api, desk, doctor_a):
    assert explain(api, desk, provider_id=doctor_a, scheduled_at=utc_text(MONDAY, "09:00")) == {
        "bookable": True, "reasons": []}


def test_explain_lists_every_rule_in_the_way_with_its_detail(api, desk, doctor_a, ana, ben, add_appointment,
                                                             make_block):
    """Monday 12:30 for 90 minutes: past the morning's close (13:00), over a booking of Ana's at
    12:30 and Ben's at 13:15 (only the first overlaps, plus a second inside), and into time off."""
    add_appointment(doctor_id=doctor_a, patient_id=ana, starts_at=instant(MONDAY, "12:30"))
    second = add_appointment(doctor_id=doctor_a, patient_id=ben, starts_at=instant(MONDAY, "13:30"))
    make_block(doctor_id=doctor_a, start=instant(MONDAY, "13:45"), end=instant(MONDAY, "15:00"), reason="Training")
    make_block(doctor_id=None, start=instant(MONDAY, "13:50"), end=instant(MONDAY, "14:00"), reason="Fire drill")
    answer = explain(api, desk, provider_id=doctor_a, scheduled_at=utc_text(MONDAY, "12:30"), duration_minutes=90)
    assert answer["bookable"] is False
    codes = [reason["code"] for reason in answer["reasons"]]
    assert codes == ["outside_hours", "blocked", "closed", "booked", "booked"]  # the rules' order
    by_code = {}
    for reason in answer["reasons"]:
        by_code.setdefault(reason["code"], []).append(reason)
    assert by_code["outside_hours"][0]["message"] == "Outside doctor availability"
    assert "09:00–13:00, 14:00–18:00" in by_code["outside_hours"][0]["detail"]
    assert by_code["blocked"][0]["message"] == "Time blocked by doctor"
    assert "Training" in by_code["blocked"][0]["detail"] and "13:45" in by_code["blocked"][0]["detail"]
    assert "closed" in by_code["closed"][0]["detail"] and "Fire drill" in by_code["closed"][0]["detail"]
    assert by_code["booked"][0]["message"] == "Time slot overlaps with another booking"
    details = " | ".join(reason["detail"] for reason in by_code["booked"])
    assert "Ana Torres" in details and "Ben Okafor" in details and f"Appointment {second} " in details


def test_the_clinic_api_answers_in_english_whatever_the_request_asks(client, desk, doctor_a, make_block):
    """Its messages and details (dates, weekdays) are a contract, like the booking API's."""
    make_block(doctor_id=doctor_a, start=instant(MONDAY, "09:00"), end=instant(MONDAY, "10:00"), reason="Training")
    query = {"provider_id": doctor_a, "scheduled_at": utc_text(MONDAY, "09:00")}
    answers = [client.get(EXPLAIN, query_string=query, headers={**as_token(desk), "Accept-Language": language})
               .get_json() for language in ("en", "es")]
    assert answers[0] == answers[1] and answers[0]["reasons"][0]["code"] == "blocked"
    saturday = {"provider_id": doctor_a, "scheduled_at": utc_text(SATURDAY, "10:00")}
    spanish = client.get(EXPLAIN, query_string=saturday, headers={**as_token(desk), "Accept-Language": "es"})
    assert "does not work on Saturdays" in spanish.get_json()["reasons"][0]["detail"]


@pytest.mark.parametrize("when, codes, detail", [
    (lambda: utc_text(TODAY - timedelta(days=1), "10:00"), ["too_soon"], "Times can be booked from"),
    # The horizon's last day as ISO 8601, whatever the clinic's language (the pages say it in theirs).
    (lambda: utc_text(TODAY + timedelta(days=200), "10:00"), ["beyond_horizon"],
     f"Bookings open 90 days ahead: up to {TODAY + timedelta(days=90)}"),
    (lambda: utc_text(SATURDAY, "10:00"), ["not_working_day"], "does not work on Saturdays"),
    (lambda: utc_text(MONDAY, "09:05"), ["off_grid"], "quarter hour"),
    (lambda: utc_text(MONDAY, "09:00")[:17] + "30.000Z", ["off_grid"], "quarter hour"),
])
def test_explain_names_the_time_rules(api, desk, doctor_a, when, codes, detail):
    answer = explain(api, desk, provider_id=doctor_a, scheduled_at=when())
    assert answer["bookable"] is False
    assert [reason["code"] for reason in answer["reasons"]][:len(codes)] == codes
    assert detail in answer["reasons"][0]["detail"]


def test_explain_agrees_with_the_booking_check_and_the_slot_list(app, api, desk, doctor_a, ana, add_appointment,
                                                                 make_block):
    """Every quarter hour of a Monday, with a booking and time off in it: explain says bookable
    exactly for the times the slot list offers, and otherwise its first reason is the booking
    check's refusal (the same rules table)."""
    add_appointment(doctor_id=doctor_a, patient_id=ana, starts_at=instant(MONDAY, "10:00"))
    make_block(doctor_id=doctor_a, start=instant(MONDAY, "15:00"), end=instant(MONDAY, "16:00"))
    with app.app_context():
        now = clinic.now()
        offered = set(booking.free_times(doctor_id=doctor_a, date=MONDAY.isoformat(), now=now))
        for minute in range(0, 1440, 15):
            hhmm = "%02d:%02d" % divmod(minute, 60)
            answer = explain(api, desk, provider_id=doctor_a, scheduled_at=utc_text(MONDAY, hhmm))
            assert answer["bookable"] is (minute in offered), hhmm
            if not answer["bookable"]:
                slot = booking.parse_slot(doctor_id=doctor_a, date=MONDAY.isoformat(), time=hhmm, duration=30)
                with pytest.raises(DomainError) as refused:
                    booking.check_bookable(slot, patient_id=0, now=now)
                assert (refused.value.code, refused.value.message) == (
                    answer["reasons"][0]["code"], answer["reasons"][0]["message"]), hhmm


def test_explain_an_unknown_doctor_and_bad_parameters(api, desk, doctor_a):
    assert explain(api, desk, provider_id=999999, scheduled_at=utc_text(MONDAY, "09:00"))["reasons"][0]["code"] == (
        "doctor_not_found")
    for params, field in [({"scheduled_at": utc_text(MONDAY, "09:00")}, "provider_id"),
                          ({"provider_id": "x", "scheduled_at": utc_text(MONDAY, "09:00")}, "provider_id"),
                          ({"provider_id": doctor_a}, "scheduled_at"),
                          ({"provider_id": doctor_a, "scheduled_at": "9999-12-31T23:59:00Z"}, "scheduled_at"),
                          ({"provider_id": doctor_a, "scheduled_at": "0001-01-01"}, "scheduled_at"),
                          ({"provider_id": doctor_a, "scheduled_at": utc_text(MONDAY, "09:00"),
                            "duration_minutes": "481"}, "duration_minutes")]:
        response = api("get", EXPLAIN, desk, query_string=params)
        assert response.status_code == 422 and field in response.get_json()["errors"], params


def test_a_doctor_is_explained_their_own_calendar_only(api, staff_token, doctor_a, doctor_b, ana, add_appointment):
    """A doctor sees their own visits only: another doctor's calendar, whose bookings the
    explainer names with their patients, is not found, as that doctor's appointments are."""
    add_appointment(doctor_id=doctor_b, patient_id=ana, starts_at=instant(MONDAY, "09:00"))
    add_appointment(doctor_id=doctor_a, patient_id=ana, starts_at=instant(MONDAY, "11:00"))
    rossi = staff_token(doctor_id=doctor_a)
    others = explain(api, rossi, provider_id=doctor_b, scheduled_at=utc_text(MONDAY, "09:00"))
    assert others == {"bookable": False, "reasons": [{"code": "doctor_not_found", "message": "Doctor not found",
                                                      "detail": "No active doctor has this id"}]}
    own = explain(api, rossi, provider_id=doctor_a, scheduled_at=utc_text(MONDAY, "11:00"))
    assert own["reasons"][0]["code"] == "booked" and "Ana Torres" in own["reasons"][0]["detail"]
    assert "Ana Torres" in explain(api, staff_token("reception"), provider_id=doctor_b,
                                   scheduled_at=utc_text(MONDAY, "09:00"))["reasons"][0]["detail"]


def test_explain_is_for_staff_only(client, bearer, ana, doctor_a, patient_api_token):
    """A patient's JWT, or a token row that belongs to a patient, gets the seed's 401."""
    query = {"provider_id": doctor_a, "scheduled_at": utc_text(MONDAY, "09:00")}
    for headers in ({}, {"Authorization": f"Bearer {bearer(ana)['Authorization'].split()[1]}"},
                    {"X-User-Token": bearer(ana)["Authorization"].split()[1]},
                    {"X-User-Token": patient_api_token(ana)}):
        response = client.get(EXPLAIN, query_string=query, headers=headers)
        assert (response.status_code, response.get_json()) == (401, NOT_AUTHORIZED), headers


def test_a_local_time_the_clocks_skip_is_refused_not_moved_an_hour_on(
        app, api, desk, booked, appointment_row, make_appointment, doctor_a, ana):
    """2026-09-06 00:30 does not exist in Santiago (00:00 jumps to 01:00). Read as clinic-local it
    became 01:30, an hour nobody asked for: a move there is refused as a time no calendar offers.
    As a range's bound it is where the gap ends: that day's 00:00 is its first instant."""
    outside = {"scheduled_at": ["Outside doctor availability"]}
    before = appointment_row(booked)
    response = reschedule(api, desk, booked, scheduled_at="2026-09-06T00:30:00")
    assert (response.status_code, response.get_json()) == (422, {"errors": outside})
    assert appointment_row(booked) == before
    response = api("get", EXPLAIN, desk, query_string={"provider_id": before["doctor_id"],
                                                       "scheduled_at": "2026-09-06T00:30"})
    assert (response.status_code, response.get_json()) == (422, {"errors": outside})
    first = make_appointment(doctor_id=doctor_a, patient_id=ana, day=date(2026, 9, 6), hhmm="01:00")
    make_appointment(doctor_id=doctor_a, patient_id=ana, day=date(2026, 9, 5), hhmm="23:30")
    for start in ("2026-09-06T00:00:00", "2026-09-06T00:30:00", "2026-09-06"):
        assert ids(in_range(api, desk, start_date=start, end_date="2026-09-06T01:00:00")) == [first], start


def test_staff_move_a_visit_into_either_half_of_the_repeated_hour_as_the_grid_offers_it(
        app, api, desk, make_doctor, make_appointment, ana, clock, appointment_row):
    """2027-04-03, a Saturday, Santiago falls back at midnight: 23:00-24:00 comes twice. The grid
    offers its first 23:15, the patients' API books it; staff got 'Outside doctor availability'
    (the check compared a time in the repeated hour with another zone's, never equal)."""
    night = date(2027, 4, 3)
    clock.set(instant(night - timedelta(days=10), "12:00"))
    doctor = make_doctor(name="Dr. Night", weekdays=[5], windows=(("22:00", "24:00"),))
    visit = make_appointment(doctor_id=doctor, patient_id=ana, day=night, hhmm="22:00")
    first = datetime(2027, 4, 3, 23, 15, tzinfo=TZ)  # fold=0: the first 23:15, -03
    response = reschedule(api, desk, visit, scheduled_at=first.isoformat())
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scheduled_at"] == "2027-04-04T02:15:00.000Z"
    # The second 23:15 (-04) is not on the grid: refused, and nothing moves.
    before = appointment_row(visit)
    second = reschedule(api, desk, visit, scheduled_at="2027-04-03T23:15:00-04:00")
    assert second.status_code == 422 and appointment_row(visit) == before
