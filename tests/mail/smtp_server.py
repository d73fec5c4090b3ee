"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1:PORT, requiring AUTH with USER and
PASSWORD (over plain text: it is loopback), writing every accepted message to OUT_DIR as
NNNN.eml, refusing recipients whose address starts with "nobody" (550). Prints "ready" once
it listens and runs until killed.

A test changes how it answers MAIL FROM by writing CONTROL (a file; absent means normal):
"451" refuses for now, as a greylisting server does; "slow N" waits N seconds before it
answers. Each MAIL FROM appends what the server did to CONTROL.log ("451", "slow", "slow done",
"mail").

usage: smtp_server.py PORT OUT_DIR USER PASSWORD [CONTROL]
"""

import asyncio
import pathlib
import sys
import threading
import warnings

# AUTH without TLS is the point here (loopback only); keep the test output quiet about it.
warnings.filterwarnings("ignore")

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, out, control):
        self.out = pathlib.Path(out)
        # Numbering goes on after the messages of an earlier run of the server.
        self.count = len(list(self.out.glob("*.eml")))
        self.control = pathlib.Path(control) if control else None

    def note(self, what):
        with open(f"{self.control}.log", "a") as log:
            log.write(what + "\n")

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        mode = self.control.read_text().split() if self.control and self.control.exists() else []
        if mode[:1] == ["451"]:
            self.note("451")
            return "451 4.7.1 Greylisted, please try again later"
        if mode[:1] == ["slow"]:
            self.note("slow")
            await asyncio.sleep(float(mode[1]))
            self.note("slow done")
        elif self.control:
            self.note("mail")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A mailbox that does not exist, for the tests of refused addresses.
        if address.startswith("nobody"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        (self.out / f"{self.count:04}.eml").write_bytes(envelope.original_content)
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


def main():
    port, out, user, password = sys.argv[1:5]
    control = sys.argv[5] if len(sys.argv) > 5 else None
    controller = Controller(
        Store(out, control),
        hostname="127.0.0.1",
        port=int(port),
        authenticator=authenticator(user, password),
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
