"""The API's routes under /api/ (DESIGN.md, "Names that outside tools rely on")."""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from arena.api import accounts
from arena.api.bots import BotViewSet
from arena.api.providers import ProviderViewSet

router = SimpleRouter()
router.register("bots", BotViewSet, basename="bot")
router.register("providers", ProviderViewSet, basename="provider")

urlpatterns = [
    path("auth/csrf/", accounts.CsrfView.as_view(), name="auth-csrf"),
    path("auth/register/", accounts.RegisterView.as_view(), name="auth-register"),
    path("auth/login/", accounts.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", accounts.LogoutView.as_view(), name="auth-logout"),
    path("auth/token/", accounts.TokenLoginView.as_view(), name="auth-token"),
    path("auth/token/refresh/", accounts.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/tokens/", accounts.TokensView.as_view(), name="auth-tokens"),
    path("auth/tokens/<str:token_key>/", accounts.TokenView.as_view(), name="auth-token-revoke"),
    path("auth/me/", accounts.MeView.as_view(), name="auth-me"),
    path("auth/password/", accounts.PasswordView.as_view(), name="auth-password"),
    path("auth/password-reset/redeem/", accounts.PasswordResetRedeemView.as_view(),
         name="auth-password-reset"),
    *router.urls,
]
