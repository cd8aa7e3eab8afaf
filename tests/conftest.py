"""Fixtures shared by the whole suite."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from bots.services import bot_create, provider_create


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The API's throttles count in the cache: each test starts with none used."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-pass-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-pass-123")


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(
        username="root", password="root-pass-123", email="root@example.com", role="admin"
    )


@pytest.fixture
def provider(user):
    return provider_create(owner=user, name="Scripted", kind="scripted", model="momentum")


@pytest.fixture
def openai_provider(user):
    return provider_create(
        owner=user, name="OpenAI", kind="openai", model="gpt-4o-mini",
        base_url="https://api.openai.com/v1", api_key="sk-test-PLAINTEXT-0123456789abcdef",
    )


@pytest.fixture
def bot(user, provider):
    return bot_create(owner=user, name="Momo", prompt="Trade {{marketData}}", provider=provider)
