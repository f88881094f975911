#!/usr/bin/env python3
"""A real SMTP server for the integration tests: accepts every message and keeps it as files.

    python3 smtp_sink.py --port 2525 --directory /tmp/mails [--tls-cert c.pem --tls-key k.key]
                         [--auth user:password]

Prints `ready` on stdout once it listens. Every message becomes two files in the directory:
`<name>.eml` (the raw RFC 5322 bytes as received) and `<name>.json` (the envelope, whether the
session used STARTTLS, and the subject, headers and text body decoded). Both are written to a
dot-file first and renamed, and the .json comes last, so a reader that looks only at complete
.json files never sees half a message. Names sort in the order of arrival, across restarts.

Recipients whose local part starts with `reject-` are refused with 550 (unknown mailbox),
`defer-` with 451 (try again later): how a test provokes permanent and temporary failures.
With `--auth`, a client must authenticate (AUTH PLAIN or LOGIN, only after STARTTLS) before
MAIL; a wrong password gets 535, and the record names the user (`auth_user`).

Needs the `aiosmtpd` package (scripts/ensure-services.sh installs it).
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, directory: str):
        self.directory = directory
        self.sequence = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("reject-"):
            return "550 5.1.1 mailbox unknown"
        if local.startswith("defer-"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "tls": session.ssl is not None,
            "auth_user": session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data,
            "subject": str(message.get("Subject", "")),
            "message_id": str(message.get("Message-ID", "")),
            "headers": [[name, str(value)] for name, value in message.items()],
            # SMTP carries CRLF; the tests compare text, so lines end in LF as in Rust strings.
            "body": body.get_content().replace("\r\n", "\n") if body is not None else "",
        }
        # Nanoseconds first: names keep arrival order even when a restart resets the counter.
        self.sequence += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self.sequence:06d}"
        self._write(f"{name}.eml", raw)
        self._write(f"{name}.json", json.dumps(record, ensure_ascii=False).encode("utf-8"))
        return "250 Message accepted"

    def _write(self, name: str, data: bytes):
        temporary = os.path.join(self.directory, f".{name}.tmp")
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, os.path.join(self.directory, name))


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def authenticator_for(expected: str):
    """Admits exactly `user:password`; the session's auth_data becomes the user."""
    user, password = expected.split(":", 1)

    def authenticate(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if auth_data.login.decode() == user and auth_data.password.decode() == password:
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    return authenticate


async def serve(arguments):
    os.makedirs(arguments.directory, exist_ok=True)
    sink = Sink(arguments.directory)
    context = None
    if arguments.tls_cert:
        context = tls_context(arguments.tls_cert, arguments.tls_key)

    def session():
        # A fixed hostname: the default looks up the machine's FQDN, which can take seconds.
        return SMTP(
            sink,
            hostname="smtp-sink.test",
            tls_context=context,
            require_starttls=False,
            decode_data=False,
            authenticator=authenticator_for(arguments.auth) if arguments.auth else None,
            auth_required=bool(arguments.auth),
            auth_require_tls=True,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(session, host=arguments.host, port=arguments.port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--tls-cert", help="offer STARTTLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    parser.add_argument("--auth", help="require AUTH as user:password (needs --tls-cert)")
    arguments = parser.parse_args()
    if bool(arguments.tls_cert) != bool(arguments.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if arguments.auth and (":" not in arguments.auth or not arguments.tls_cert):
        parser.error("--auth takes user:password and needs --tls-cert (AUTH only after STARTTLS)")
    try:
        asyncio.run(serve(arguments))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"smtp_sink: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
