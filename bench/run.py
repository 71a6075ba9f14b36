"""Build a large clinic, then time the busy requests twice: in-process (Flask's test client, one at
a time) and over HTTP with wrk against gunicorn (2 workers) on 127.0.0.1. Prints median and p99
latency and requests per second per endpoint, and writes them to bench-results.json. Over HTTP,
each endpoint is measured right after the floor (bench/floor.py: a bare Flask app running one
indexed query on the same database, served the same way), and reported as a ratio to it: the
machine's speed drifts, and a ratio measured in the same minute does not. Every GET
must run as many SQL queries on it as on a small clinic built first in the same database (then
emptied), or the bench stops. Then the worker sends BENCH_REMINDERS (10 000; 0 skips it) due
reminders to a local SMTP server, timed against a bare smtplib client in the same run
(bench/reminders.py).

    python -m bench.run              SQLite (instance/bench.sqlite, rebuilt each run)
    DATABASE_URL=postgresql://... python -m bench.run    an EMPTY PostgreSQL database
"""
import gc
import http.cookiejar
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import event, inspect

from bench import data, floor, reminders
from clinica_web import create_app, hot_reads
from clinica_web.extensions import db
from clinica_web.models import User
from clinica_web.services import clinic, tokens

PROJECT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"
SECRET_KEY = "bench-secret-key-of-at-least-32-characters"
# Patients who book, each with a doctor of their own (the 30 not on the busy day's list), so no two
# bookings ever collide: patient n books with doctor BUSY_DOCTORS + n.
IN_PROCESS_API_PATIENT, IN_PROCESS_WEB_PATIENT = 1, 2
WRK_API_PATIENTS = range(3, 23)  # the latency run books for the first half, the throughput run the second
WRK_WEB_PATIENTS = range(23, 31)
IN_PROCESS_REQUESTS = 200
# The small clinic whose query counts the large one's must equal: a visit a day for four weeks
# of history and four ahead (the same three weeks booked solid ahead): about 15 000 appointments.
SMALL = {"per_day": 1, "history_days": 28}
WRK_SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
RESULTS = PROJECT / "bench-results.json"


def database_url():
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    path = PROJECT / "instance" / "bench.sqlite"
    path.parent.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def app_config(url, mail_dir):
    return {"SQLALCHEMY_DATABASE_URI": url, "MAIL_FILE_DIR": mail_dir, "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False, "SECRET_KEY": SECRET_KEY}


def build(url, mail_dir, **size):
    app = create_app(app_config(url, mail_dir))
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        today = clinic.local_today(clinic.now())
        facts = data.build(today=today, password_hash=_hash(app), **size)
        facts["today"] = today.isoformat()
        desk = db.session.scalars(db.select(User).where(User.email == "desk@bench.test")).one()
        facts["staff_token"] = tokens.create_api_token(desk, name="bench", now=clinic.now())
        # JWTs for the wrk booking POSTs (the server shares SECRET_KEY): one per patient.
        patients = db.session.scalars(db.select(User).where(User.email.in_(
            [_patient(n) for n in WRK_API_PATIENTS]))).all()
        facts["wrk_jwts"] = {user.email: tokens.create_jwt(user, now=clinic.now()) for user in patients}
        facts["build_seconds"] = round(time.perf_counter() - started, 1)
        # The floor's query: the busy doctor's appointments on the busy day (naive UTC, as stored).
        day_start, day_end = clinic.local_day_span(date.fromisoformat(facts["busy_day"]))
        facts["floor_path"] = "/floor?" + urllib.parse.urlencode({
            "doctor_id": facts["busy_doctor_id"], "start": day_start.replace(tzinfo=None).isoformat(),
            "end": day_end.replace(tzinfo=None).isoformat()})
        # The reminders' `now`: what the bookings below queue is due after it, so not sent with them.
        facts["reminders_now"] = clinic.now()
        db.session.commit()
        # The state autovacuum keeps a live database in: planner statistics and (PostgreSQL) the
        # visibility map, without which a bulk-loaded table reads every page to set hint bits.
        with db.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("VACUUM ANALYZE")
                # Write the bulk load out now: otherwise the checkpoint it triggers spreads that
                # write over the next minutes, and every commit measured meanwhile waits behind it.
                connection.exec_driver_sql("CHECKPOINT")
            else:
                connection.exec_driver_sql("ANALYZE")
    return app, facts


def _hash(app):
    user = User()
    user.set_password(PASSWORD)
    return user.password_hash


def endpoints(facts, jwt):
    """name -> (method, path, headers, body function or None)."""
    busy, doctor = facts["busy_day"], facts["doctor_id"]
    day = busy  # the slot list of the busy day's doctors is as full as it gets
    today = date.fromisoformat(facts["today"])
    month_start = (today - timedelta(days=30)).isoformat()
    # The month of the busy day (two or three weeks ahead): days booked solid, the busy day, open
    # days; the current month would be all past by its end.
    month = busy[:7]
    staff = {"X-User-Token": facts["staff_token"]}
    bearer = {"Authorization": f"Bearer {jwt}"}
    return {
        "slot list page": ("GET", f"/doctors/{facts['busy_doctor_id']}?date={day}", {}),
        "slot list partial": ("GET", f"/doctors/{facts['busy_doctor_id']}/slots?date={day}", {"HX-Request": "true"}),
        # The same in Spanish (DESIGN.md section 19: within 5% of the English one).
        "slot list partial (Spanish)": ("GET", f"/doctors/{facts['busy_doctor_id']}/slots?date={day}",
                                        {"HX-Request": "true", "Accept-Language": "es"}),
        "available-slots API": ("GET", f"/v1/bookings/available-slots?doctor_id={doctor}&date={day}", bearer),
        "day list (busy day)": ("GET", f"/desk/?date={busy}", "desk-session"),
        # The same day as a grid: 50 doctors' columns (20 of them with 25 visits) of quarter hours.
        "timeline (busy day)": ("GET", f"/desk/timeline?date={busy}", "desk-session"),
        "in_date_range (a month of one doctor)": (
            "GET", f"/v1/clinic/appointments/in_date_range?start_date={month_start}&end_date="
                   f"{today.isoformat()}&provider_id={doctor}", staff),
        "pending_documentation": ("GET", "/v1/clinic/appointments/pending_documentation?page=1&page_size=25", staff),
        # Finding a time (DESIGN.md section 17), over the 50 doctors whose weeks ahead are booked solid.
        "month view partial": ("GET", f"/doctors/{facts['busy_doctor_id']}/calendar?month={month}",
                               {"HX-Request": "true"}),
        "calendar API (a month)": ("GET", f"/v1/doctors/{facts['busy_doctor_id']}/calendar?month={month}", bearer),
        "next-available API (50 doctors)": ("GET", "/v1/bookings/next-available?limit=10", bearer),
        "find page (50 doctors)": ("GET", "/find", {}),
    }


def _patient(number):
    return f"patient{number}@bench.test"


def booking_bodies(facts, patient):
    """Free times for patient number `patient`: their own doctor (one of the 30 not on the busy
    day's list), every 15 minutes of every weekday of weeks 6 to 11, so no two POSTs collide."""
    today = date.fromisoformat(facts["today"])
    first_monday = today + timedelta(days=(7 - today.weekday()) % 7 + 42)
    assert 0 < patient <= data.DOCTORS - data.BUSY_DOCTORS, "one doctor per booking patient"
    doctor_id = data.BUSY_DOCTORS + patient
    bodies = []
    for week in range(6):
        for weekday in range(5):
            day = (first_monday + timedelta(days=7 * week + weekday)).isoformat()
            bodies += [{"doctor_id": doctor_id, "date": day, "time": "%02d:%02d" % divmod(data.OPEN + 15 * n, 60),
                        "duration": 15} for n in range((data.CLOSE - data.OPEN) // 15)]
    return bodies


def summarize(durations, wall):
    ms = sorted(d * 1000 for d in durations)
    return {"p50_ms": round(statistics.median(ms), 2), "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2),
            "requests_per_second": round(len(ms) / wall, 1), "requests": len(ms)}


def in_process(app, facts):
    client = app.test_client()
    login = {"email": _patient(IN_PROCESS_API_PATIENT), "password": PASSWORD}
    jwt = client.post("/v1/auth/login", json=login).json["token"]
    desk = app.test_client()
    desk.post("/login", data={"email": "desk@bench.test", "password": PASSWORD})
    web = app.test_client()
    web.post("/login", data={"email": _patient(IN_PROCESS_WEB_PATIENT), "password": PASSWORD})
    results = {"floor": _in_process_floor(facts, app.config["SQLALCHEMY_DATABASE_URI"])}
    for name, (method, path, headers) in endpoints(facts, jwt).items():
        runner = desk if headers == "desk-session" else client
        results[name] = _time(lambda: runner.open(path, method=method,
                                                  headers=headers if isinstance(headers, dict) else {}), name=name)
    bodies = iter(booking_bodies(facts, IN_PROCESS_API_PATIENT))
    results["booking POST (API)"] = _time(lambda: client.post(
        "/v1/bookings", json=next(bodies), headers={"Authorization": f"Bearer {jwt}"}), expect=(201,), name="API")
    web_bodies = iter(booking_bodies(facts, IN_PROCESS_WEB_PATIENT))
    results["booking POST (web)"] = _time(lambda: _web_book(web, next(web_bodies)), expect=(303,), name="web")
    return results, jwt


def _in_process_floor(facts, url):
    floor.app.config["DATABASE_URL"] = url
    client = floor.app.test_client()
    return _time(lambda: client.get(facts["floor_path"]), name="floor")


def query_counts(app, facts):
    """The SQL queries one request of each GET endpoint runs (after one to warm up), in process;
    BEGIN and savepoints left out, as the reminders' counts leave them out."""
    with app.app_context():
        engine = db.engine
    statements = []

    def record(_connection, _cursor, statement, *_args):
        statements.append(statement)

    client, desk = app.test_client(), app.test_client()
    desk.post("/login", data={"email": "desk@bench.test", "password": PASSWORD})
    jwt = next(iter(facts["wrk_jwts"].values()))
    counts = {}
    event.listen(engine, "before_cursor_execute", record)
    try:
        for name, (method, path, headers) in endpoints(facts, jwt).items():
            if method != "GET":
                continue
            runner = desk if headers == "desk-session" else client
            for _ in range(2):
                statements.clear()
                hot_reads_before = hot_reads.reads_run(app)
                response = runner.open(path, method=method, headers=headers if isinstance(headers, dict) else {})
                if response.status_code != 200:
                    raise SystemExit(f"{name}: unexpected {response.status_code}")
                response.close()
            counts[name] = len([s for s in statements
                                if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))])
            counts[name] += hot_reads.reads_run(app) - hot_reads_before  # run on the driver, past the events
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return counts


def small_clinic_counts(url, mail_dir):
    """Build the SMALL clinic in the (empty) database, count each GET's queries on it, empty the
    database again: (appointments, counts)."""
    app, facts = build(url, mail_dir, **SMALL)
    counts = query_counts(app, facts)
    with app.app_context():
        db.session.remove()
        # The migrations' own rows stay: the schema's version, and the calendar version's one row.
        tables = [name for name in inspect(db.engine).get_table_names()
                  if name not in ("alembic_version", "calendar_version")]
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:  # ids from 1 again: the bench books doctor n by id
                connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:  # sqlite3 itself: the pragma and VACUUM work only outside a transaction
            connection = db.engine.raw_connection()
            try:
                sqlite = connection.driver_connection
                sqlite.execute("PRAGMA foreign_keys = OFF")
                for table in tables:
                    sqlite.execute(f'DELETE FROM "{table}"')
                sqlite.commit()
                sqlite.execute("VACUUM")
            finally:
                connection.close()
        db.engine.dispose()
    return facts["appointments"], counts


def _web_book(client, body):
    data = {"date": body["date"], "time": body["time"], "type": "follow_up"}
    return client.post(f"/doctors/{body['doctor_id']}/book", data=data)


def _time(call, expect=(200,), name=""):
    """Latency is until the response is ready; closing it runs what comes after the response (a
    booking's email), which counts in requests per second but not in latency, as behind gunicorn."""
    for _ in range(5):
        call().close()
    durations = []
    started = time.perf_counter()
    for _ in range(IN_PROCESS_REQUESTS):
        begin = time.perf_counter()
        response = call()
        durations.append(time.perf_counter() - begin)
        if response.status_code not in expect:
            raise SystemExit(f"{name}: unexpected {response.status_code}: {response.get_data(as_text=True)[-300:]}")
        response.close()
    return summarize(durations, time.perf_counter() - started)


def serve(url, mail_dir, application="wsgi:app"):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": url, "MAIL_FILE_DIR": mail_dir, "RATELIMIT_ENABLED": "false",
           "CLINICA_CONFIG": "production", "SECRET_KEY": SECRET_KEY, "SITE_URL": f"http://127.0.0.1:{port}"}
    env["SESSION_COOKIE_SECURE"] = "false"  # the benchmark speaks plain HTTP on loopback
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--workers", "2", "--bind",
                                f"127.0.0.1:{port}", application], cwd=PROJECT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


def web_session(base, email):
    """Log in like a browser; returns the session cookie header and the session's CSRF token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"csrf_token": _csrf_token(opener.open(f"{base}/login").read().decode()),
                                   "email": email, "password": PASSWORD}).encode()
    page = opener.open(f"{base}/login", data=form).read().decode()  # the redirect after logging in
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar), _csrf_token(page)


def _csrf_token(page):
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)[1]


def over_http(base, floor_base, facts, jwt, measured):
    wrk = shutil.which("wrk")
    if not wrk:
        print("wrk is not installed (Debian: apt-get install wrk): skipping the HTTP measurements.")
        return {}
    cookie, _token = web_session(base, "desk@bench.test")
    results = {}

    def beside_the_floor(measure):
        """The floor, then the endpoint at once: the endpoint's figures as ratios to the floor's."""
        bare = _wrk(wrk, floor_base + facts["floor_path"], {}, seconds=max(1, WRK_SECONDS // 2))  # steady at once
        found = measure()
        found["floor"] = {key: bare[key] for key in ("p50_ms", "requests_per_second")}
        found["requests_per_second_to_floor"] = round(found["requests_per_second"] / bare["requests_per_second"], 3)
        found["p50_to_floor"] = round(found["p50_ms"] / bare["p50_ms"], 2) if bare["p50_ms"] else None
        return found

    for name, (method, path, headers) in endpoints(facts, jwt).items():
        headers = {"Cookie": cookie} if headers == "desk-session" else headers
        seconds = _wrk_seconds(measured[name]["p50_ms"])
        results[name] = beside_the_floor(lambda: _wrk(wrk, base + path, headers, seconds=seconds))
    # Each wrk request books a different free time, for a patient with a doctor of their own; the
    # latency run and the throughput run book for different halves of the patients.
    api = [[("/v1/bookings", {"Authorization": f"Bearer {facts['wrk_jwts'][_patient(n)]}",
                              "Content-Type": "application/json"}, json.dumps(body))
            for n in half for body in booking_bodies(facts, n)] for half in _halves(WRK_API_PATIENTS)]
    results["booking POST (API)"] = beside_the_floor(
        lambda: _wrk(wrk, f"{base}/v1/bookings", {}, scripts=[_booking_script(p) for p in api]))
    web = []
    for half in _halves(WRK_WEB_PATIENTS):
        posts = []
        for n in half:
            cookie, token = web_session(base, _patient(n))
            posts += [(f"/doctors/{body['doctor_id']}/book",
                       {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
                       urllib.parse.urlencode({"csrf_token": token, "date": body["date"], "time": body["time"],
                                               "type": "follow_up"}))
                      for body in booking_bodies(facts, n)]
        web.append(posts)
    results["booking POST (web)"] = beside_the_floor(
        lambda: _wrk(wrk, f"{base}/", {}, scripts=[_booking_script(p) for p in web]))
    return results


def _wrk_seconds(in_process_p50_ms):
    """WRK_SECONDS, or longer for a slow endpoint: long enough for 8 connections on 2 workers to
    get answers (4 requests a worker, each taking up to 5 times its in-process time on a busy
    machine; a short smoke run of /find once counted none)."""
    return max(WRK_SECONDS, math.ceil(in_process_p50_ms * THROUGHPUT_CONNECTIONS / 2 * 5 / 1000))


def _halves(patients):
    middle = len(patients) // 2
    return [patients[:middle], patients[middle:]]


def _booking_script(posts):
    """A wrk Lua script POSTing (path, headers, body) after (path, headers, body): wrk's threads
    take turns through the list (thread t the t-th of every WRK_THREADS), so no two requests book
    the same time."""
    def lua_table(pairs):
        return "{" + ",".join(f"[{json.dumps(key)}]={json.dumps(value)}" for key, value in pairs.items()) + "}"

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            "local posts = {" + ",".join("{%s,%s,%s}" % (json.dumps(path), lua_table(headers), json.dumps(body))
                                         for path, headers, body in posts) + "}\n"
            "local threads = 0\n"
            "function setup(thread)\n  thread:set('id', threads)\n  threads = threads + 1\nend\n"
            "local n = 0\n"
            f"request = function()\n  local post = posts[((n * {WRK_THREADS} + id) % #posts) + 1]\n  n = n + 1\n"
            "  return wrk.format('POST', post[1], post[2], post[3])\nend\n")
    return script.name


WRK_THREADS, THROUGHPUT_CONNECTIONS = 2, 8


def _wrk(wrk, url, headers, scripts=(None, None), seconds=None):
    """Latency (p50, p99) with one connection, one request at a time: a free worker always takes
    it, so no request waits behind another (or behind the email a booking sends after its
    response). Requests per second with 8 connections, enough to keep both workers busy."""
    latency = _run_wrk(wrk, url, headers, 1, scripts[0], seconds)
    throughput = _run_wrk(wrk, url, headers, THROUGHPUT_CONNECTIONS, scripts[1], seconds)
    # The requests wrk leaves in flight when it stops are still served: let the two workers finish
    # them (as long as a request took with 8 connections), or the next measurement's first requests
    # wait behind them (after a slow endpoint: most of a 1-second smoke run).
    time.sleep(max(throughput["p50_ms"] or 0, THROUGHPUT_CONNECTIONS / 2 * (latency["p50_ms"] or 0)) / 1000)
    return {"p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"],
            "requests_per_second": throughput["requests_per_second"],
            f"p50_ms_at_{THROUGHPUT_CONNECTIONS}_connections": throughput["p50_ms"],
            "non_2xx": latency["non_2xx"] + throughput["non_2xx"]}


def _run_wrk(wrk, url, headers, connections, script, seconds=None):
    # wrk's default timeout (2 s) would drop the slowest requests from the figures, not count them.
    command = [wrk, f"-t{min(WRK_THREADS, connections)}", f"-c{connections}", f"-d{seconds or WRK_SECONDS}s",
               "--latency",
               "--timeout", "30s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    # wrk pads seconds with a space ("1.84s "): without \s* a p50 over a second would read as None.
    latency = {p: _ms(v, unit) for p, v, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)}
    return {"p50_ms": latency.get("50"), "p99_ms": latency.get("99"),
            "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
            "non_2xx": int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0}


def _ms(value, unit):
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)


def loop_ms():
    """How long a fixed pure-Python loop takes: a shared virtual machine's speed drifts between
    (and within) runs, and two runs' figures compare only next to this."""
    started, total = time.perf_counter(), 0
    for number in range(5_000_000):
        total += number
    return round((time.perf_counter() - started) * 1000)


def main():
    speed_before = loop_ms()
    url = database_url()
    mail_dir = tempfile.mkdtemp(prefix="clinica-bench-mail-")
    print(f"Counting each GET's SQL queries on a small clinic on {url.split('@')[-1]} ...")
    small_appointments, small_counts = small_clinic_counts(url, mail_dir)
    print(f"Building the benchmark clinic on {url.split('@')[-1]} ...")
    app, facts = build(url, mail_dir)
    print(f"  {facts['appointments']} appointments in {facts['build_seconds']} s; busy day {facts['busy_day']}; "
          f"{facts['weeks_ahead_filled']} of them fill the {data.FILL_DAYS} days ahead but for {data.HOLES} "
          f"half hours")
    counts = query_counts(app, facts)
    if counts != small_counts:
        raise SystemExit(f"SQL queries per request: {counts} with {facts['appointments']} appointments, "
                         f"{small_counts} with {small_appointments}")
    # What the build left in memory is not the app's: frozen, the garbage collector stops walking
    # it on every collection, so this process times requests like a fresh gunicorn worker.
    gc.collect()
    gc.freeze()
    # Requests are made outside any app context: each gets its own, as in production.
    measured, jwt = in_process(app, facts)
    with app.app_context():
        db.engine.dispose()
    process, base = serve(url, mail_dir)
    floor_process, floor_base = serve(url, mail_dir, "bench.floor:app")
    try:
        http_results = over_http(base, floor_base, facts, jwt, measured)
    finally:
        for server in (process, floor_process):
            server.terminate()
            server.wait(timeout=10)
    sending = None
    if reminders.REMINDERS:
        print(f"Sending {reminders.REMINDERS} due reminders ...")
        sending = reminders.measure(app_config(url, mail_dir), now=facts["reminders_now"])
    speed = [speed_before, loop_ms()]
    report = {"database": url.split(":")[0], "appointments": facts["appointments"], "loop_ms_before_after": speed,
              "in_process": measured, "http_gunicorn_2_workers": http_results,
              # The same for the small clinic (asserted above).
              "queries_per_request": counts, "small_clinic_appointments": small_appointments,
              "reminders": sending}
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\n{'endpoint':<40} {'in-process p50/p99 ms':>22} {'HTTP p50/p99 ms':>18} {'HTTP req/s':>11}"
          f" {'floor':>7} {'to floor':>8} {'p50 x':>6} {'non-2xx':>8} {'queries':>8}")
    for name, result in measured.items():
        remote = http_results.get(name, {})
        print(f"{name:<40} {result['p50_ms']:>10} / {result['p99_ms']:<9} "
              f"{remote.get('p50_ms', '-')!s:>8} / {remote.get('p99_ms', '-')!s:<8} "
              f"{remote.get('requests_per_second', '-')!s:>10} "
              f"{remote.get('floor', {}).get('requests_per_second', '-')!s:>7} "
              f"{remote.get('requests_per_second_to_floor', '-')!s:>8} {remote.get('p50_to_floor', '-')!s:>6} "
              f"{remote.get('non_2xx', '-')!s:>8} {counts.get(name, '-')!s:>8}")
    print(f"Queries per request: the same with {facts['appointments']} appointments as with {small_appointments}.")
    if sending:
        print("\n" + reminders.describe(sending))
    print(f"\nA fixed Python loop took {speed[0]} ms before and {speed[1]} ms after (the machine's speed).")
    print(f"Written to {RESULTS.name}")


if __name__ == "__main__":
    main()
