"""The keys' pages: /providers/ (LLM providers and their test connection) and /wallets/
(exchange credentials). Secrets are write-only, as in the API: a page says only whether a
key is stored, never any part of it."""
from __future__ import annotations

from django.urls import path

from arena.web.keys import providers, wallets

urlpatterns = [
    path("providers/", providers.provider_list, name="providers"),
    path("providers/new/", providers.provider_new, name="provider-new"),
    path("providers/<int:pk>/edit/", providers.provider_edit, name="provider-edit"),
    path("providers/<int:pk>/delete/", providers.provider_delete, name="provider-delete"),
    path("providers/<int:pk>/test/", providers.provider_test, name="provider-test"),
    path("wallets/", wallets.wallet_list, name="wallets"),
    path("wallets/new/", wallets.wallet_new, name="wallet-new"),
    path("wallets/<int:pk>/edit/", wallets.wallet_edit, name="wallet-edit"),
    path("wallets/<int:pk>/delete/", wallets.wallet_delete, name="wallet-delete"),
]
