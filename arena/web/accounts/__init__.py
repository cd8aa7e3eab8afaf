"""Signing in and out, registering, recovering a password, and your account (see
arena/web/__init__.py). The rules are the API's: these views call the services and
serializers of ``arena.api.accounts``."""
from __future__ import annotations

from django.urls import path

from arena.web.accounts import account, signin

urlpatterns = [
    path("login/", signin.login_view, name="login"),
    path("logout/", signin.logout_view, name="logout"),
    path("register/", signin.register_view, name="register"),
    path("recover/", signin.recover_view, name="recover"),
    path("account/", account.account_view, name="account"),
    path("account/profile/", account.profile_view, name="account-profile"),
    path("account/password/", account.password_view, name="account-password"),
    path("account/tokens/", account.token_create_view, name="account-tokens"),
    path("account/tokens/<str:token_key>/revoke/", account.token_revoke_view, name="account-token-revoke"),
]
