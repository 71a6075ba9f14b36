"""The OpenAPI 3 document of the v1 API, served at /v1/openapi.json and tested against the code
(tests/api/test_openapi.py runs schemathesis over it)."""
from flask import current_app

from clinica_web.blueprints.api import booking_api
from clinica_web.models.waitlist import ACTIVE, ANY_TIME, BOOKED, LEFT
from clinica_web.services import finder, waitlist
from clinica_web.services.lifecycle import PATIENT_CANCEL_REASONS
from clinica_web.services.rules import RULES


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _ref("Error")
CLINIC_401 = _json(_ref("ClinicMessageError"), "Missing, unknown or revoked token, or not a staff token")
CLINIC_422 = _json(_ref("ClinicFieldErrors"), "Invalid parameters, by field")
BOOKING_401 = _json(ERROR, "Missing or invalid bearer token: Authentication required")
BAD_REQUEST = _json(ERROR, "Invalid input; `error` says which rule failed")
NOT_JSON = _json(ERROR, "The body is not JSON (Content-Type must be application/json)")
TOO_MANY = _json(ERROR, "Too many attempts; try again in a minute")
JWT = [{"bearerAuth": []}]
STAFF = [{"userToken": []}]
TIME = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
DATE_DESCRIPTION = ("ISO 8601 date (whole local days) or date-time (no offset means clinic-local; a local time "
                    "the clocks skip means where the gap ends)")
CONFIRMED_AT = {"type": "string", "format": "date-time", "nullable": True,
                "description": "When the patient confirmed this time (null until then, and again after a move)"}
PATH_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
MONTH = "^20[0-9]{2}-(0[1-9]|1[0-2])$"
OWN_VISITS_LEFT_OUT = ("Only times the caller could book: those that would overlap one of their own bookings, "
                       "with any doctor, are left out (and not counted).")
MONTH_STATUSES = (finder.OPEN, finder.FULL, finder.DAY_OFF, finder.CLOSED, finder.PAST, finder.BEYOND_HORIZON)


def _query(name, schema, description, required=False):
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


BOOKING_TO_MOVE = _query("booking_id", {"type": "integer"}, "One of the caller's bookings: the times it can be moved "
                         "to (PUT /v1/bookings/{id}), at its own length (`duration` and `appointment_type` "
                         "are not used): its own time counts as free for the times around it, but is not "
                         "offered")
DURATION = _query("duration", {"type": "integer", "minimum": 1, "maximum": 480},
                  "Minutes (default: the appointment type's, else 30)")
APPOINTMENT_TYPE = _query("appointment_type", {"type": "string",
                                               "enum": ["consultation", "follow_up", "therapy", "procedure"]},
                          "Visit type (its default duration when no duration is given)")


def _link(operation_id, id_expression):
    """An OpenAPI link: what a response gives the next call (the stateful tests follow them)."""
    return {"operationId": operation_id, "parameters": {"id": id_expression}}


def _body(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SCHEMAS = {
    "Explanation": {
        "type": "object",
        "required": ["bookable", "reasons"],
        "properties": {
            "bookable": {"type": "boolean"},
            "reasons": {"type": "array", "items": {
                "type": "object",
                "required": ["code", "message", "detail"],
                "properties": {
                    "code": {"type": "string", "enum": list(RULES),
                             "description": "The rule's stable code (DESIGN.md section 14)"},
                    "message": {"type": "string", "description": "The booking API's message for the rule"},
                    "detail": {"type": "string", "description": "What is in the way: a booking, time off, hours"},
                },
            }},
        },
    },
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "ClinicMessageError": {"type": "object", "required": ["errors"], "properties": {"errors": {"type": "string"}}},
    "ClinicFieldErrors": {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
        },
    },
    "User": {
        "type": "object",
        "required": ["id", "email", "full_name"],
        "properties": {"id": {"type": "integer"}, "email": {"type": "string"}, "full_name": {"type": "string"}},
    },
    "Doctor": {
        "type": "object",
        "required": ["id", "name", "specialty"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "specialty": {"type": "string"}},
    },
    "Booking": {
        "type": "object",
        "required": ["id", "doctor_id", "doctor_name", "specialty", "user_id", "date", "time", "duration", "status",
                     "appointment_type", "scheduled_at", "created_at", "confirmed_at", "clash"],
        "properties": {
            "id": {"type": "integer"},
            "doctor_id": {"type": "integer"},
            "doctor_name": {"type": "string"},
            "specialty": {"type": "string"},
            "user_id": {"type": "integer"},
            "date": {"type": "string", "format": "date", "description": "Clinic-local date"},
            "time": {"type": "string", "pattern": TIME, "description": "Clinic-local start time"},
            "duration": {"type": "integer", "minimum": 1, "maximum": 480},
            "status": {"$ref": "#/components/schemas/Status"},
            "appointment_type": {"type": "string"},
            "scheduled_at": {"type": "string", "format": "date-time", "example": "2023-10-27T14:30:00.000Z"},
            "created_at": {"type": "string", "format": "date-time"},
            "confirmed_at": CONFIRMED_AT,
            "clash": {
                "type": "object", "nullable": True, "required": ["kind", "reason"],
                "description": "In GET /v1/bookings/me, for a booking to come: a clinic closure or the doctor's time "
                               "off entered since it was booked overlaps its time (choose another time, or the "
                               "clinic will be in touch); of several, the one that starts first. Null otherwise.",
                "properties": {
                    "kind": {"type": "string", "enum": ["clinic_closed", "doctor_unavailable"]},
                    "reason": {"type": "string", "nullable": True,
                               "description": "A closure's reason; the doctor's reasons stay with the clinic"},
                },
            },
        },
    },
    "Status": {"type": "string", "enum": ["scheduled", "arrived", "completed", "no_show", "cancelled"]},
    "WaitlistEntry": {
        "type": "object",
        "required": ["id", "doctor_id", "doctor_name", "specialty", "appointment_type", "from_date", "to_date",
                     "part_of_day", "status", "created_at", "held"],
        "properties": {
            "id": {"type": "integer"},
            "doctor_id": {"type": "integer", "nullable": True, "description": "Null when waiting for a specialty"},
            "doctor_name": {"type": "string", "nullable": True, "description": "Null when waiting for a specialty"},
            "specialty": {"type": "string", "description": "The specialty waited for, or the doctor's"},
            "appointment_type": {"type": "string"},
            "from_date": {"type": "string", "format": "date", "description": "First clinic-local day"},
            "to_date": {"type": "string", "format": "date", "description": "Last clinic-local day"},
            "part_of_day": {"type": "string", "enum": list(waitlist.PARTS_OF_DAY),
                            "description": "morning (starts before 13:00), afternoon (from 13:00) or any"},
            "status": {"type": "string", "enum": [ACTIVE, LEFT, BOOKED]},
            "created_at": {"type": "string", "format": "date-time"},
            "held": {
                "type": "object", "nullable": True,
                "required": ["doctor_id", "doctor_name", "date", "time", "duration", "held_until", "accept_token"],
                "description": "In GET /v1/waitlist/me: a time held for this entry now, until `held_until`; "
                               "POST /v1/waitlist/offers/{accept_token}/accept books it. Null otherwise.",
                "properties": {
                    "doctor_id": {"type": "integer"},
                    "doctor_name": {"type": "string"},
                    "date": {"type": "string", "format": "date", "description": "Clinic-local date"},
                    "time": {"type": "string", "pattern": TIME, "description": "Clinic-local start time"},
                    "duration": {"type": "integer", "minimum": 1, "maximum": 480},
                    "held_until": {"type": "string", "format": "date-time"},
                    "accept_token": {"type": "string", "nullable": True,
                                     "description": "Null for a patient without an email address"},
                },
            },
        },
    },
    "CalendarDay": {
        "type": "object",
        "required": ["date", "status", "free"],
        "properties": {
            "date": {"type": "string", "format": "date", "description": "Clinic-local date"},
            "status": {"type": "string", "enum": list(MONTH_STATUSES),
                       "description": "open (free times left), full, day_off (no hours, or the doctor's time off), "
                                      "closed (the clinic is closed), past, beyond_horizon"},
            "free": {"type": "integer", "minimum": 0, "description": "Free start times that day"},
        },
    },
    "FreeTime": {
        "type": "object",
        "required": ["doctor_id", "doctor_name", "specialty", "date", "time"],
        "properties": {
            "doctor_id": {"type": "integer"},
            "doctor_name": {"type": "string"},
            "specialty": {"type": "string"},
            "date": {"type": "string", "format": "date", "description": "Clinic-local date"},
            "time": {"type": "string", "pattern": TIME, "description": "Clinic-local start time"},
        },
    },
    "Appointment": {
        "type": "object",
        "required": ["id", "patient_id", "provider_id", "scheduled_at", "status", "appointment_type",
                     "duration_minutes", "notes", "created_at", "updated_at", "confirmed_at"],
        "properties": {
            "id": {"type": "integer"},
            "patient_id": {"type": "integer"},
            "provider_id": {"type": "integer"},
            "scheduled_at": {"type": "string", "format": "date-time", "example": "2023-10-27T14:30:00.000Z"},
            "status": {"$ref": "#/components/schemas/Status"},
            "appointment_type": {"type": "string", "example": "therapy"},
            "duration_minutes": {"type": "integer", "minimum": 1, "maximum": 480},
            "notes": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "confirmed_at": CONFIRMED_AT,
        },
    },
}

PATHS = {
    "/v1/auth/register": {
        "post": {
            "operationId": "register",
            "summary": "Create a patient account",
            "tags": ["booking"],
            "requestBody": _body({
                "type": "object",
                "required": ["email", "password", "full_name"],
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "password": {"type": "string", "minLength": 8, "maxLength": 200},
                    "full_name": {"type": "string", "maxLength": 120},
                },
            }),
            "responses": {
                "201": _json(_ref("User"), "Created"),
                "400": _json(ERROR, "Invalid input, or `Email already exists`"),
                "415": NOT_JSON,
                "429": TOO_MANY,
            },
        }
    },
    "/v1/auth/login": {
        "post": {
            "operationId": "login",
            "summary": "Log in and get a JWT (valid one day)",
            "tags": ["booking"],
            "requestBody": _body({
                "type": "object",
                "required": ["email", "password"],
                "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
            }),
            "responses": {
                "200": _json({
                    "type": "object",
                    "required": ["token", "user"],
                    "properties": {
                        "token": {"type": "string"},
                        "user": {
                            "allOf": [_ref("User")],
                            "properties": {"role": {"type": "string",
                                                    "enum": ["patient", "doctor", "reception", "admin"]}},
                            "required": ["role"],
                        },
                    },
                }, "Logged in"),
                "400": _json(ERROR, "`Invalid credentials`"),
                "415": NOT_JSON,
                "429": TOO_MANY,
            },
        }
    },
    "/v1/doctors": {
        "get": {
            "operationId": "listDoctors",
            "summary": "Active doctors",
            "tags": ["booking"],
            "responses": {"200": _json({"type": "array", "items": _ref("Doctor")}, "Doctors")},
        }
    },
    "/v1/bookings/available-slots": {
        "get": {
            "operationId": "availableSlots",
            "summary": "Free start times of a doctor on a local date",
            "description": OWN_VISITS_LEFT_OUT,
            "tags": ["booking"],
            "security": JWT,
            "parameters": [
                _query("doctor_id", {"type": "integer"}, "Doctor id", required=True),
                _query("date", {"type": "string", "format": "date"}, "Clinic-local date, YYYY-MM-DD", required=True),
                _query("duration", {"type": "integer", "minimum": 1, "maximum": 480, "default": 30},
                       "Minutes"),
                BOOKING_TO_MOVE,
            ],
            "responses": {
                "200": _json({"type": "array", "items": {"type": "string", "pattern": TIME}}, "Start times, HH:MM"),
                "400": BAD_REQUEST,
                "401": BOOKING_401,
            },
        }
    },
    "/v1/doctors/{id}/calendar": {
        "get": {
            "operationId": "doctorCalendar",
            "summary": "Every day of a month of an active doctor: open (with its number of free times), full, day "
                       "off, closed, past or beyond the booking horizon",
            "description": OWN_VISITS_LEFT_OUT,
            "tags": ["booking"],
            "security": JWT,
            "parameters": [
                PATH_ID,
                _query("month", {"type": "string", "pattern": MONTH}, "YYYY-MM, from 2000-01 to 2099-12",
                       required=True),
                DURATION,
                APPOINTMENT_TYPE,
                BOOKING_TO_MOVE,
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("CalendarDay")}, "The days of the month, in order"),
                "400": _json(ERROR, "`Invalid month format (YYYY-MM)`, `Choose a month from 2000-01 to 2099-12`, "
                                    "`Invalid duration`, `Invalid appointment type`, `Doctor not found` (unknown or "
                                    "inactive), `Booking not found or unauthorized`"),
                "401": BOOKING_401,
                "404": _json(ERROR, "The id in the path is not a whole number"),
            },
        }
    },
    "/v1/bookings/next-available": {
        "get": {
            "operationId": "nextAvailable",
            "summary": "The earliest free times of the active doctors (of a specialty, or one doctor), up to the "
                       "booking horizon, earliest first",
            "description": OWN_VISITS_LEFT_OUT,
            "tags": ["booking"],
            "security": JWT,
            "parameters": [
                _query("doctor_id", {"type": "integer"}, "Only this doctor"),
                _query("specialty", {"type": "string"}, "Only doctors of this specialty (none of an unknown one)"),
                DURATION,
                APPOINTMENT_TYPE,
                _query("from", {"type": "string", "format": "date"}, "Clinic-local date to look from (default and "
                       "at the earliest: today)"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, "How many times"),
                BOOKING_TO_MOVE,
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("FreeTime")}, "Free times, earliest first"),
                "400": _json(ERROR, "`limit must be between 1 and 50`, `Invalid date format (YYYY-MM-DD)`, "
                                    "`Invalid duration`, `Invalid appointment type`, `Doctor not found`, "
                                    "`Booking not found or unauthorized`"),
                "401": BOOKING_401,
            },
        }
    },
    "/v1/bookings": {
        "post": {
            "operationId": "createBooking",
            "summary": "Book an appointment",
            "tags": ["booking"],
            "security": JWT,
            "parameters": [{
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "pattern": "^[!-~]{1,40}$"},
                "description": "A key of the client's choosing (a UUID, say) that makes a retry safe: the same key "
                               "with the same doctor, day, time, length and type answers with the booking it made "
                               "(201), not an overlap; with anything else, or once that booking is cancelled or "
                               "moved, 422",
            }],
            "requestBody": _body({
                "type": "object",
                "required": ["doctor_id", "date", "time"],
                "properties": {
                    "doctor_id": {"type": "integer"},
                    "date": {"type": "string", "format": "date"},
                    "time": {"type": "string", "pattern": TIME},
                    "duration": {"type": "integer", "minimum": 1, "maximum": 480},
                    "appointment_type": {"type": "string",
                                         "enum": ["consultation", "follow_up", "therapy", "procedure"]},
                    "notes": {"type": "string", "maxLength": 2000},
                },
            }),
            "responses": {
                "201": {**_json(_ref("Booking"), "Booked"), "links": {
                    "CancelIt": _link("cancelBooking", "$response.body#/id"),
                    "MoveItMyself": _link("rescheduleBooking", "$response.body#/id"),
                    "ConfirmIt": _link("confirmBooking", "$response.body#/id"),
                    "MoveIt": _link("rescheduleAppointment", "$response.body#/id"),
                }},
                "400": BAD_REQUEST,
                "401": BOOKING_401,
                "415": NOT_JSON,
                "422": _json(ERROR, "The Idempotency-Key was already used for another booking"),
            },
        }
    },
    "/v1/bookings/me": {
        "get": {
            "operationId": "myBookings",
            "summary": "The caller's bookings, by date and time",
            "tags": ["booking"],
            "security": JWT,
            "responses": {
                "200": {**_json({"type": "array", "items": _ref("Booking")}, "Bookings"),
                        "links": {"CancelTheFirst": _link("cancelBooking", "$response.body#/0/id")}},
                "401": BOOKING_401,
            },
        }
    },
    "/v1/bookings/{id}": {
        "put": {
            "operationId": "rescheduleBooking",
            "summary": "Move one of the caller's bookings (same doctor, or another of the same specialty), until the "
                       "change cutoff",
            "tags": ["booking"],
            "security": JWT,
            "parameters": [PATH_ID],
            "requestBody": _body({
                "type": "object",
                "required": ["date", "time"],
                "properties": {
                    "date": {"type": "string", "format": "date"},
                    "time": {"type": "string", "pattern": TIME},
                    "doctor_id": {"type": "integer"},
                },
            }),
            "responses": {
                "200": _json(_ref("Booking"), "The moved booking"),
                "400": _json(ERROR, "The booking rules' messages, as for POST /v1/bookings; `Booking not found or "
                                    "unauthorized`; `Too late to change this booking online; please call the clinic`"),
                "401": BOOKING_401,
                "404": _json(ERROR, "The id in the path is not a whole number"),
                "415": NOT_JSON,
            },
        },
        "delete": {
            "operationId": "cancelBooking",
            "summary": "Cancel one of the caller's upcoming bookings, until the change cutoff, with a reason",
            "tags": ["booking"],
            "security": JWT,
            "parameters": [PATH_ID],
            "requestBody": {**_body({"type": "object", "properties": {
                "reason": {"type": "string", "enum": list(PATIENT_CANCEL_REASONS), "default": "other"},
                "note": {"type": "string", "maxLength": 500},
            }}), "required": False},
            "responses": {
                "200": _json({"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
                             "`Booking cancelled successfully`"),
                "400": _json(ERROR, "`Booking not found or unauthorized` (also for another patient's booking); "
                                    "`Too late to change this booking online; please call the clinic`; a reason "
                                    "or note refused"),
                "415": _json(ERROR, "A body that is not JSON"),
                "401": BOOKING_401,
                "404": _json(ERROR, "The id in the path is not a whole number"),
            },
        }
    },
    "/v1/bookings/{id}/confirm": {
        "post": {
            "operationId": "confirmBooking",
            "summary": "Confirm one of the caller's upcoming bookings (sets confirmed_at; confirming again changes "
                       "nothing)",
            "tags": ["booking"],
            "security": JWT,
            "parameters": [PATH_ID],
            "responses": {
                "200": _json(_ref("Booking"), "The confirmed booking"),
                "400": _json(ERROR, "`Booking not found or unauthorized` (also for another patient's booking); "
                                    "`Only upcoming scheduled bookings can be confirmed`"),
                "401": BOOKING_401,
                "404": _json(ERROR, "The id in the path is not a whole number"),
            },
        }
    },
    "/v1/waitlist": {
        "post": {
            "operationId": "joinWaitlist",
            "summary": "Wait for time with a doctor or any doctor of a specialty (exactly one of them), over at "
                       f"most {waitlist.MAX_RANGE_DAYS} days within the booking horizon and a part of the day; at "
                       f"most {waitlist.MAX_ACTIVE} entries waiting at once",
            "tags": ["booking"],
            "security": JWT,
            "requestBody": _body({
                "type": "object",
                "required": ["from_date", "to_date"],
                "properties": {
                    "doctor_id": {"type": "integer", "description": "This doctor (or give specialty)"},
                    "specialty": {"type": "string", "description": "Any active doctor of this specialty"},
                    "appointment_type": {"type": "string",
                                         "enum": ["consultation", "follow_up", "therapy", "procedure"],
                                         "description": "Visit type (default: consultation)"},
                    "from_date": {"type": "string", "format": "date", "description": "First clinic-local day"},
                    "to_date": {"type": "string", "format": "date", "description": "Last clinic-local day"},
                    "part_of_day": {"type": "string", "enum": list(waitlist.PARTS_OF_DAY), "default": ANY_TIME},
                },
            }),
            "responses": {
                "201": {**_json(_ref("WaitlistEntry"), "Waiting"),
                        "links": {"LeaveIt": _link("leaveWaitlist", "$response.body#/id")}},
                "400": _json(ERROR, "`Missing required fields`, `Choose a doctor or a specialty`, `Doctor not "
                                    "found`, `No doctor of this specialty`, the date and range rules, `Only "
                                    "patients join the waitlist`, or the limit of entries"),
                "401": BOOKING_401,
                "415": NOT_JSON,
            },
        }
    },
    "/v1/waitlist/me": {
        "get": {
            "operationId": "myWaitlist",
            "summary": "The caller's waiting entries (last day not passed), in joining order",
            "tags": ["booking"],
            "security": JWT,
            "responses": {
                "200": _json({"type": "array", "items": _ref("WaitlistEntry")}, "Entries"),
                "401": BOOKING_401,
            },
        }
    },
    "/v1/waitlist/{id}": {
        "delete": {
            "operationId": "leaveWaitlist",
            "summary": "Leave one of the caller's waiting entries",
            "tags": ["booking"],
            "security": JWT,
            "parameters": [PATH_ID],
            "responses": {
                "200": _json(_ref("WaitlistEntry"), "The entry, status `left`"),
                "400": _json(ERROR, "`Waitlist entry not found` (also another patient's, or one already left)"),
                "401": BOOKING_401,
                "404": _json(ERROR, "The id in the path is not a whole number"),
            },
        }
    },
    "/v1/waitlist/offers/{token}/accept": {
        "post": {
            "operationId": "acceptWaitlistOffer",
            "summary": "Book the time an offer holds for the caller (the token of the offer email's \"Book it\" "
                       "link; single use, valid while the hold lasts)",
            "tags": ["booking"],
            "security": JWT,
            "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "The offer's token, as in the email's link"}],
            "responses": {
                "201": {**_json(_ref("Booking"), "Booked"), "links": {
                    "CancelIt": _link("cancelBooking", "$response.body#/id"),
                    "ConfirmIt": _link("confirmBooking", "$response.body#/id"),
                }},
                "400": _json(ERROR, "`Offer expired`: used, expired, declined, unknown, or another patient's"),
                "401": BOOKING_401,
                "404": _json(ERROR, "No such path (an empty token, or one with a slash)"),
            },
        }
    },
    "/v1/clinic/appointments/pending_documentation": {
        "get": {
            "operationId": "pendingDocumentation",
            "summary": "Started appointments without documentation, oldest first",
            "tags": ["clinic"],
            "security": STAFF,
            "parameters": [
                _query("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number"),
                _query("page_size", {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
                       "Items per page"),
            ],
            "responses": {
                "200": {
                    "description": "One page",
                    "headers": {
                        "X-Total-Count": {"schema": {"type": "integer"}, "description": "All pending appointments"},
                        "Link": {"schema": {"type": "string"}, "description": "first, prev, next, last pages"},
                    },
                    "content": {"application/json": {"schema": {"type": "array", "items": _ref("Appointment")}}},
                },
                "401": CLINIC_401,
                "422": CLINIC_422,
            },
        }
    },
    "/v1/clinic/appointments/in_date_range": {
        "get": {
            "operationId": "inDateRange",
            "summary": "Appointments starting in a range, ordered by scheduled_at",
            "tags": ["clinic"],
            "security": STAFF,
            "parameters": [
                _query("start_date", {"type": "string"}, DATE_DESCRIPTION, required=True),
                _query("end_date", {"type": "string"}, DATE_DESCRIPTION + "; a date includes that whole day",
                       required=True),
                _query("provider_id", {"type": "integer", "minimum": 1}, "Only this doctor"),
                _query("patient_id", {"type": "integer", "minimum": 1}, "Only this patient"),
            ],
            "responses": {
                "200": {**_json({"type": "array", "items": _ref("Appointment")}, "Appointments"),
                        "links": {"MoveTheFirst": _link("rescheduleAppointment", "$response.body#/0/id")}},
                "401": CLINIC_401,
                "422": CLINIC_422,
            },
        }
    },
    "/v1/clinic/appointments/reschedule_appointments/{id}": {
        "put": {
            "operationId": "rescheduleAppointment",
            "summary": "Move an appointment to a new time and/or provider",
            "tags": ["clinic"],
            "security": STAFF,
            "parameters": [PATH_ID],
            "requestBody": _body({
                "type": "object",
                "required": ["appointment"],
                "properties": {
                    "appointment": {
                        "type": "object",
                        "properties": {
                            "scheduled_at": {"type": "string", "format": "date-time"},
                            "provider_id": {"type": "integer"},
                            "reason": {"type": "string", "maxLength": 500},
                        },
                    }
                },
            }),
            "responses": {
                "200": _json(_ref("Appointment"), "The updated appointment"),
                "400": _json(_ref("ClinicMessageError"), "The body is not valid JSON"),
                "401": CLINIC_401,
                "404": _json(_ref("ClinicMessageError"), "`Appointment not found`"),
                "415": _json(_ref("ClinicMessageError"), "Content-Type must be application/json"),
                "422": CLINIC_422,
            },
        }
    },
    "/v1/clinic/availability/explain": {
        "get": {
            "operationId": "explainAvailability",
            "summary": "Whether a time can be booked, and every rule that stops it",
            "tags": ["clinic"],
            "security": STAFF,
            "parameters": [
                _query("provider_id", {"type": "integer", "minimum": 1}, "The doctor", required=True),
                _query("scheduled_at", {"type": "string"}, DATE_DESCRIPTION, required=True),
                _query("duration_minutes", {"type": "integer", "minimum": 1, "maximum": 480},
                       "Length of the visit (default 30)"),
            ],
            "responses": {
                "200": _json(_ref("Explanation"), "`bookable`, and the reasons it is not (empty when it is)"),
                "401": CLINIC_401,
                "422": CLINIC_422,
            },
        }
    },
}


def document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{current_app.config['CLINIC_NAME']} API",
            "version": "1",
            "description": "The booking API (patients, JWT bearer) and the clinic appointments API "
                           "(staff, X-User-Token). Instants are UTC with milliseconds; dates and HH:MM "
                           "times are in the clinic's time zone.",
        },
        "servers": [{"url": "/"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "userToken": {"type": "apiKey", "in": "header", "name": "X-User-Token"},
            },
        },
    }


@booking_api.get("/openapi.json")
def openapi_json():
    return document()
