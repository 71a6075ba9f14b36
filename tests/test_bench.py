"""`make bench` keeps working: a small clinic on SQLite, every endpoint timed in-process and over
HTTP (gunicorn and wrk; CI installs wrk, elsewhere the HTTP half is checked where wrk exists), each
GET running as many queries as on a smaller clinic, and the worker sending due reminders to a local
SMTP server beside a bare smtplib client."""
import gc
import json
import os
import shutil

from bench import data, reminders, run
from clinica_web.services import notifications

ENDPOINTS = {"slot list page", "slot list partial", "slot list partial (Spanish)", "available-slots API",
             "day list (busy day)", "timeline (busy day)",
             "in_date_range (a month of one doctor)", "pending_documentation", "booking POST (API)",
             "booking POST (web)", "month view partial", "calendar API (a month)", "next-available API (50 doctors)",
             "find page (50 doctors)"}
FINDING = {"month view partial", "calendar API (a month)", "next-available API (50 doctors)", "find page (50 doctors)"}


def test_the_benchmark_times_every_endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bench.sqlite'}")
    monkeypatch.setattr(data, "PER_DAY", 1)  # 14 000 appointments instead of 220 000
    monkeypatch.setattr(run, "IN_PROCESS_REQUESTS", 5)
    # A second a run (the slow endpoints, /find and next-available, run longer: run._wrk_seconds).
    monkeypatch.setattr(run, "WRK_SECONDS", 1)
    monkeypatch.setattr(reminders, "REMINDERS", 2 * reminders.BATCH + 50)  # 3 passes, the last not full
    monkeypatch.setattr(run, "RESULTS", tmp_path / "bench-results.json")
    monkeypatch.setattr(gc, "freeze", lambda: None)  # what the bench does to its own process, not to pytest's
    run.main()

    report = json.loads((tmp_path / "bench-results.json").read_text())
    assert report["database"] == "sqlite" and report["appointments"] > 14_000
    # The weeks ahead booked solid (about 13 000 visits with a visit a day besides), and every GET
    # as many queries as on the small clinic (run.main stops otherwise), which is smaller.
    assert report["small_clinic_appointments"] < report["appointments"] // 1.5
    assert set(report["queries_per_request"]) == ENDPOINTS - {"booking POST (API)", "booking POST (web)"}
    # The slot list's one read, and available-slots' two (the caller's token, the day), counted though
    # they run on the driver itself (clinica_web/hot_reads.py), past SQLAlchemy's events.
    queries = report["queries_per_request"]
    assert queries["slot list partial"] == queries["slot list partial (Spanish)"] == 1
    assert queries["available-slots API"] == 2
    assert set(report["in_process"]) == ENDPOINTS | {"floor"}  # the bare Flask app's one query (bench/floor.py)
    assert all(result["p50_ms"] > 0 and result["requests"] == 5 for result in report["in_process"].values())
    if shutil.which("wrk") or os.environ.get("CI"):
        over_http = report["http_gunicorn_2_workers"]
        assert set(over_http) == ENDPOINTS
        # Every request answered as it should: 200s, 201s for API bookings, 303s for web ones.
        assert {name: result["non_2xx"] for name, result in over_http.items()} == dict.fromkeys(ENDPOINTS, 0)
        assert all(result["requests_per_second"] > 0 for result in over_http.values())
        # Each measured right after the floor, and given as ratios to it. The endpoints that do more
        # than the floor's one query serve fewer requests a second and answer later; the slot
        # requests (one or two hot reads, issue 20) come close enough to it that a busy machine,
        # in this second-long run, can put them on either side.
        near_the_floor = {name for name, count in queries.items() if count <= 2}
        for name, result in over_http.items():
            assert result["floor"]["requests_per_second"] > 0 and result["floor"]["p50_ms"] > 0
            assert result["requests_per_second_to_floor"] > 0 and result["p50_to_floor"] > 0, name
            if name not in near_the_floor:
                assert result["requests_per_second_to_floor"] < 1 and result["p50_to_floor"] > 1, name

    sending = report["reminders"]
    assert sending["emails"] == 250 and sending["passes"] == 3 and sending["rounds"] == 3
    assert sending["worker_emails_per_second"] > 0 and sending["bare_smtplib_emails_per_second"] > 0
    # The same queries and transactions for every full batch, none an email: a claim, one read of
    # the visits, the lease; then every RECORD_EVERY emails one write of their outcomes and, but
    # for the last, one renewal of the lease on the rest.
    writes = reminders.BATCH // notifications.RECORD_EVERY
    [queries] = sending["queries_per_batch"]
    assert queries == 3 + 2 * writes - 1 and sending["transactions_per_batch"] == [1 + writes]
