"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what Django sends, for the tests to read."""

import email
import re
import socket
import threading
import time
from email import policy

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """Collect every message the SMTP server accepts."""

    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def clear(self):
        with self._lock:
            self.messages.clear()

    def to(self, address, *, timeout=5.0):
        """Return the messages sent to ``address``, waiting up to ``timeout`` for the first one."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [m for m in self.messages if address.lower() in m["To"].lower()]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def last_to(self, address, *, timeout=5.0):
        found = self.to(address, timeout=timeout)
        assert found, f"no email reached {address}; got {[m['To'] for m in self.messages]}"
        return found[-1]


def body_of(message):
    """Return the plain-text body of ``message``."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content()


def link_in(message, path_fragment):
    """Return the first URL in ``message`` whose path contains ``path_fragment``."""
    for url in re.findall(r"https?://\S+", body_of(message)):
        if path_fragment in url:
            return url
    raise AssertionError(f"no link containing {path_fragment!r} in:\n{body_of(message)}")


def code_in(message):
    """Return the one-time sign-in code: the line of 6 capitals and digits."""
    match = re.search(r"^\s*([A-Z0-9]{6})\s*$", body_of(message), re.MULTILINE)
    assert match, f"no code in:\n{body_of(message)}"
    return match.group(1)


class SMTPServer:
    def __init__(self):
        self.mailbox = Mailbox()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname=self.host, port=self.port)

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()
