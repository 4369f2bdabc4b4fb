"""WSGI entry point (waitress in ``cmo serve``; any WSGI server in production)."""

import os

from django.core.wsgi import get_wsgi_application

from cmo.web import prepare_data_dir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmo.web.settings")
prepare_data_dir()
application = get_wsgi_application()
