"""Ilopiste registers: wiring only. Logic lives in chalicelib/."""

import gc

# A cold start allocates only objects that live as long as the container (modules, classes,
# the route table): collecting garbage among them while they load costs ~15% of the import
# and frees nothing. Collection resumes at the end of this module (docs/architecture.md).
gc.disable()

from chalice import Chalice

from chalicelib.api.authorizer import authorizer_bp
from chalicelib.api.call_lists import BINARY_TYPES, call_lists_bp
from chalicelib.api.campaigns import campaigns_bp
from chalicelib.api.cases import cases_bp
from chalicelib.api.console import console_bp
from chalicelib.api.dpo import dpo_bp
from chalicelib.api.openapi import openapi_bp
from chalicelib.api.pages import pages_bp
from chalicelib.api.partner import partner_bp
from chalicelib.api.partner_registry import partner_registry_bp
from chalicelib.api.privacy_center import privacy_center_bp
from chalicelib.api.prospects import prospects_bp
from chalicelib.api.public import public_bp
from chalicelib.api.restrictions import restrictions_bp
from chalicelib.api.routing import normalise_error_response
from chalicelib.api.selfservice import selfservice_bp
from chalicelib.api.staff import staff_bp
from chalicelib.config import settings
from chalicelib.events import events_bp

settings()  # refuse to start outside the EU/EEA, before anything else runs

app = Chalice(app_name="ilopiste")
app.api.binary_types.extend(BINARY_TYPES)  # call lists: .xlsx and CSV bytes, both ways
app.register_middleware(normalise_error_response, "http")
app.register_blueprint(authorizer_bp)
app.register_blueprint(public_bp)
app.register_blueprint(pages_bp)
app.register_blueprint(console_bp)
app.register_blueprint(privacy_center_bp)
app.register_blueprint(staff_bp)
app.register_blueprint(dpo_bp)
app.register_blueprint(restrictions_bp)
app.register_blueprint(cases_bp)
app.register_blueprint(selfservice_bp)
app.register_blueprint(partner_bp)
app.register_blueprint(partner_registry_bp)
app.register_blueprint(prospects_bp)
app.register_blueprint(campaigns_bp)
app.register_blueprint(call_lists_bp)
app.register_blueprint(events_bp)
app.register_blueprint(openapi_bp)

# What the import built is kept for the container's life: later collections skip it.
gc.freeze()
gc.enable()
