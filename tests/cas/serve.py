"""A real CAS server for the test suites: django-cas-server (PyPI), which implements the
CAS protocol 1.0, 2.0 and 3.0 with single log-out, in a throw-away Django project.

    python tests/cas/serve.py --port 8443 --data DIR \
        --service '^http://127\\.0\\.0\\.1:\\d+/sso/cas' \
        --user lea.martin:secret:Martin --user anne.durand:secret:Durand

Each `--user LOGIN:PASSWORD[:LAST_NAME]` is a Django user (the CAS user id is LOGIN). The
service pattern has single log-out on, and releases the user's `last_name` as the
attribute `ENTPersonLogin` (so a test can map an attribute that is not the CAS id: give a
LAST_NAME that is a directory login). The server runs in the foreground until killed; it
prints `CAS ready` once it listens. Test-only: never a production CAS.
"""

import argparse
import os
import sys
import threading
import time
import urllib.request


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data", required=True, help="a directory for the CAS server's database")
    ap.add_argument("--service", required=True, help="the service URL pattern (a regex)")
    ap.add_argument("--user", action="append", default=[])
    args = ap.parse_args()

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import django
    from django.conf import settings

    os.makedirs(args.data, exist_ok=True)
    settings.configure(
        DEBUG=False,
        SECRET_KEY="causerie-test-cas-server-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="cas_urls",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "cas_server",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.locale.LocaleMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(args.data, "cas.sqlite3"),
            }
        },
        STATIC_URL="/static/",
        SESSION_COOKIE_NAME="cas_session",
        SESSION_COOKIE_AGE=86400,
        # No look-up of a newer version on PyPI.
        CAS_NEW_VERSION_HTML_WARNING=False,
        CAS_NEW_VERSION_EMAIL_WARNING=False,
        CAS_SHOW_POWERED=False,
        CAS_SLO_TIMEOUT=5,
    )
    django.setup()

    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    from django.contrib.auth.models import User
    from cas_server import models

    for spec in args.user:
        login, password, *rest = spec.split(":")
        u, _ = User.objects.get_or_create(username=login)
        u.set_password(password)
        u.last_name = rest[0] if rest else ""
        u.save()
    models.ServicePattern.objects.all().delete()
    pattern = models.ServicePattern.objects.create(
        pos=1,
        name="causerie",
        pattern=args.service,
        single_log_out=True,
    )
    models.ReplaceAttributName.objects.create(
        name="last_name", replace="ENTPersonLogin", service_pattern=pattern
    )

    def announce() -> None:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/cas/login", timeout=1)
                print("CAS ready", flush=True)
                return
            except Exception:
                time.sleep(0.05)

    threading.Thread(target=announce, daemon=True).start()
    call_command(
        "runserver", f"127.0.0.1:{args.port}", use_reloader=False, use_threading=True,
        skip_checks=True,
    )


if __name__ == "__main__":
    sys.exit(main())
