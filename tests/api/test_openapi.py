"""The OpenAPI document at /v1/openapi.json against the implementation, with schemathesis.

Schemathesis generates requests from the document, valid and invalid, and checks that no
response is a 500 and that every response (status, content type, headers, body) is one the
document describes. Its phases: examples, fuzzing and coverage (boundary and edge values of every
parameter: on by default) in the parametrized test; stateful (sequences of calls linked by the
document's `links`) in the workflow test.
"""
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from clinica_web.extensions import db
from clinica_web.services import tokens
from tests.conftest import instant, next_weekday

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture
def credentials(app, make_doctor, make_user, make_appointment):
    """A patient's JWT and a reception API token, with a doctor and a few appointments to find."""
    doctor_id = make_doctor(with_user=True)
    patient_id = make_user(email="ana@example.com")
    monday = next_weekday(0)
    for hhmm in ("09:00", "10:00"):
        make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=monday, hhmm=hhmm)
    make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=monday.replace(day=1), hhmm="11:00")
    desk_id = make_user(email="desk@example.com", role="reception")
    with app.app_context():
        from clinica_web.models import User

        staff_token = tokens.create_api_token(db.session.get(User, desk_id), now=instant(monday, "08:00"))
    login = app.test_client().post("/v1/auth/login", json={"email": "ana@example.com", "password": "correct-horse-9"})
    return {"Authorization": f"Bearer {login.json['token']}", "X-User-Token": staff_token}


@pytest.fixture
def api_schema(app, credentials):
    return schemathesis.openapi.from_wsgi("/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_matches_its_document(case, credentials):
    case.call_and_validate(headers=credentials, checks=CHECKS)


def test_document_lists_every_api_route(app):
    """Every /v1 route of the app is in the document, and nothing else is."""
    document = app.test_client().get("/v1/openapi.json").json
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        # Not the document itself, nor the APIs' catch-alls (which answer 404 and 405 in their format).
        if rule.rule.startswith("/v1/") and rule.endpoint not in ("api.openapi_json", "api.unrouted",
                                                                  "clinic_api.unrouted"):
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            for name in ("{booking_id}", "{appointment_id}", "{doctor_id}", "{entry_id}"):
                path = path.replace(name, "{id}")
            routed |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_api_workflows_that_follow_the_documents_links(app, credentials):
    """Schemathesis's stateful phase: sequences of calls, each using what the one before answered
    (book, then cancel or move that booking; list, then move the first), with every default check
    (server errors, schema conformance, and the stateful ones such as "a deleted thing is gone")."""
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": credentials}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # A schema-valid request may still break a booking rule (an unknown doctor, a date in
            # the past): a 400 with the rule's message is the right answer, not a failure. And every
            # call carries our valid credentials, which the auth check would read as "ignored"
            # (bad credentials are test_booking_api's and test_clinic_api's to try).
            # And, as in the parametrized test above (CHECKS), not "negative data rejected": the API
            # ignores query parameters it does not know (`?0=null`), as HTTP APIs commonly do, which
            # that check counts as invalid data accepted.
            excluded = [schemathesis.checks.positive_data_acceptance, schemathesis.checks.ignored_auth,
                        schemathesis.checks.negative_data_rejection]
            case.validate_response(response, excluded_checks=excluded, transport_kwargs=kwargs or None,
                                   recorder=self.recorder)

    Workflow.run(settings=hypothesis.settings(
        max_examples=25, stateful_step_count=6, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    ))
