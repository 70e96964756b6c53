"""A Pub/Sub push endpoint built on Google's google-auth library, the way its docs show it.

Serves POST on 127.0.0.1 at a free port and prints the port on stdout. Each push is verified
with google.oauth2.id_token.verify_token against the certificates at --certs-url, then email,
email_verified and iss are checked explicitly (verify_token checks none of them). Answers 204,
401 (not authenticated) or 403 (a genuine token not for this endpoint); 503 when the
certificates cannot be fetched. Exits when its stdin closes, so it never outlives the test.

--no-audience-check passes audience=None to verify_token: the common real bug.
"""

import argparse
import http.server
import os
import sys
import threading

import google.auth.exceptions
import google.auth.transport.requests
from google.auth import jwt
from google.oauth2 import id_token

ISSUERS = ("https://accounts.google.com", "accounts.google.com")


def make_handler(args, session_request):
    class PushHandler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, reason = self.judge(self.headers.get("Authorization"))
            body = reason.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def judge(self, authorization):
            if authorization is None:
                return 401, "no-authorization"
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return 401, "not-bearer"
            try:
                # google-auth tries every published certificate when the header has no kid;
                # docs/protocol.md §6 tokens always carry one, so its absence is refused here.
                if not jwt.decode_header(token).get("kid"):
                    return 401, "missing-kid"
                claims = id_token.verify_token(
                    token,
                    session_request,
                    audience=None if args.no_audience_check else args.audience,
                    certs_url=args.certs_url,
                )
            except google.auth.exceptions.TransportError as error:
                return 503, "keys-unavailable: %s" % error
            except (ValueError, TypeError, KeyError, google.auth.exceptions.GoogleAuthError) as error:
                return 401, "invalid-token: %s" % error
            if claims.get("iss") not in ISSUERS:
                return 401, "wrong-issuer"
            if claims.get("email") != args.service_account:
                return 403, "email-mismatch"
            if claims.get("email_verified") is not True:
                return 403, "email-not-verified"
            return 204, ""

        def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
            pass

    return PushHandler


def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--certs-url", required=True)
    parser.add_argument("--service-account", required=True)
    parser.add_argument("--no-audience-check", action="store_true")
    args = parser.parse_args()
    session_request = google.auth.transport.requests.Request()
    server = http.server.HTTPServer(("127.0.0.1", 0), make_handler(args, session_request))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
