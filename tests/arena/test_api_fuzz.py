"""Schemathesis against /api/schema/: generated requests to every operation, signed in as a
user who owns bots, providers, positions and trades (so requests reach real objects, not
only 401s). No response may be a server error, and every response must match the schema:
its status code is documented, its body has the documented shape. A bounded number of
examples per operation keeps CI fast."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from arena import accounts
from arena.wsgi import application
from bots.services import bot_create, provider_create
from trading.models import Market
from trading.services import position_close, position_open

EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def load_schema():
    """The schema as /api/schema/ serves it, with requests going to the WSGI app in-process."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    document = json.loads(OpenApiJsonRenderer().render(generated))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded


schema = load_schema()


@pytest.fixture(autouse=True)
def connection_kept():
    # Requests go straight to the WSGI app, whose request signals would close the test's
    # database connection (and its transaction); Django's test client disconnects them too.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db, user):
    """A user with a provider, two bots, an open and a closed position, and their trades."""
    Market.objects.create(symbol="BTCUSDT", base_asset="BTC", last_price=Decimal("60000"),
                          mark_price=Decimal("60000"), updated_at=timezone.now())
    provider = provider_create(owner=user, name="Scripted", kind="scripted", model="momentum")
    for name in ("Fuzzy", "Wuzzy"):
        bot = bot_create(owner=user, name=name, prompt="Trade {{marketData}}", provider=provider)
        opened = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=Decimal("100"), leverage=3,
                               now=timezone.now())
        position_close(position=opened.position.pk, reason="manual", now=timezone.now())
        position_open(bot=bot, symbol="BTCUSDT", side="SHORT", margin=Decimal("50"), leverage=2,
                      now=timezone.now())
    return accounts.token_create(user=user, name="fuzz")[1]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_operation_answers_as_documented(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
