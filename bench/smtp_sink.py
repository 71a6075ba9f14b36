"""A local SMTP server for the reminders benchmark (bench/reminders.py): aiosmtpd on 127.0.0.1,
accepting and counting every message. It runs in a process of its own, as a real mail server
would, so that it never waits for the sender's GIL nor the sender for its.

    python -m bench.smtp_sink PORT    prints "ready", then the count for each line read; stops at EOF
"""
import socket
import subprocess
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller

PROJECT = Path(__file__).resolve().parent.parent


class _Counter:
    def __init__(self):
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        self.received += 1  # on the server's one event loop thread
        return "250 Message accepted for delivery"


def serve(port):
    counter = _Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    for _line in sys.stdin:
        print(counter.received, flush=True)
    controller.stop()


class Sink:
    """`with Sink() as sink:` a server on 127.0.0.1:`sink.port`; `sink.received()` messages so far."""

    def __enter__(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._process = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(self.port)], cwd=PROJECT,
                                         text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        timer = threading.Timer(30, self._process.kill)  # a sink that never says "ready"
        timer.start()
        ready = self._process.stdout.readline().strip()
        timer.cancel()
        if ready != "ready":
            raise SystemExit("The SMTP sink did not start")
        return self

    def received(self) -> int:
        self._process.stdin.write("count\n")
        self._process.stdin.flush()
        return int(self._process.stdout.readline())

    def __exit__(self, *exc):
        self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
