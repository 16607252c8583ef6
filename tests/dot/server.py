"""A second real authorization server for the end-to-end tests: django-oauth-toolkit (PyPI),
mounted under /o/ as its documentation shows, with OpenID Connect off.

    python server.py --port <n> --db <sqlite file>

It publishes its RFC 8414 metadata where many IdPs do but the RFC does not:
{issuer}/.well-known/oauth-authorization-server (the issuer is http://127.0.0.1:<port>/o), with
no OpenID document at all, so a resource server that looks only at the RFC 8414 location finds
nothing. Tokens are opaque; introspection is RFC 7662 with client authentication.

Two confidential clients: `portcullis-test` / `test-secret` (gets tokens by client credentials)
and `hello-api` / `hello-secret` (the resource server, for introspection). Prints one JSON line
{"issuer": ..., "port": ...} on stdout once it answers requests.
"""

import argparse
import json
import os
import sys
import threading

import django
from django.conf import settings
from django.urls import include, path

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--db", required=True)
args = parser.parse_args()

settings.configure(
    DEBUG=False,
    SECRET_KEY="portcullis-test-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "oauth2_provider",
    ],
    MIDDLEWARE=[],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": args.db}},
    USE_TZ=True,
    OAUTH2_PROVIDER={
        "SCOPES": {"hello:read": "read greetings", "hello:write": "write greetings", "introspection": "introspect"},
        "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
    },
    LOGGING_CONFIG=None,
)
django.setup()

urlpatterns = [path("o/", include("oauth2_provider.urls"))]

from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)

from oauth2_provider.models import get_application_model  # noqa: E402

Application = get_application_model()
for client_id, secret in [("portcullis-test", "test-secret"), ("hello-api", "hello-secret")]:
    Application.objects.get_or_create(
        client_id=client_id,
        defaults={
            "name": client_id,
            "client_secret": secret,
            "client_type": Application.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": Application.GRANT_CLIENT_CREDENTIALS,
        },
    )

from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server  # noqa: E402
from socketserver import ThreadingMixIn  # noqa: E402

from django.core.wsgi import get_wsgi_application  # noqa: E402


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        sys.stderr.write("dot: " + (format % args) + "\n")


server = make_server("127.0.0.1", args.port, get_wsgi_application(), server_class=ThreadingServer, handler_class=QuietHandler)
port = server.server_address[1]
print(json.dumps({"issuer": f"http://127.0.0.1:{port}/o", "port": port}), flush=True)
server.serve_forever()
