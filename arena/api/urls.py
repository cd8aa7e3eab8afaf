"""The API's routes under /api/ (DESIGN.md, "Names that outside tools rely on")."""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from arena.api import accounts
from arena.api.admin import AdminUserViewSet, OrphanedBotsView, StatsView
from arena.api.analytics import (
    AggregateBestWorstView,
    AggregateBySymbolView,
    AggregateSummaryView,
    BotPerformanceView,
    BotRiskView,
    BotRunsView,
    BotTradesView,
    ComparisonView,
    LlmUsageView,
    PerformanceView,
)
from arena.api.bots import BotViewSet
from arena.api.changes import ChangeViewSet
from arena.api.leaderboard import LeaderboardView
from arena.api.markets import MarketViewSet
from arena.api.moderation import ModeratedBotViewSet, ModeratedUserViewSet
from arena.api.providers import ProviderViewSet
from arena.api.public import PublicBotViewSet
from arena.api.real import KillSwitchView, RealTradingView
from arena.api.settings import SettingsMetadataView, SettingsResetView, SettingsView
from arena.api.wallets import WalletViewSet

router = SimpleRouter()
router.register("bots", BotViewSet, basename="bot")
router.register("providers", ProviderViewSet, basename="provider")
router.register("wallets", WalletViewSet, basename="wallet")
router.register("public/bots", PublicBotViewSet, basename="public-bot")
router.register("changes", ChangeViewSet, basename="change")
router.register("markets", MarketViewSet, basename="market")
router.register("admin/users", AdminUserViewSet, basename="admin-user")
router.register("moderation/bots", ModeratedBotViewSet, basename="moderation-bot")
router.register("moderation/users", ModeratedUserViewSet, basename="moderation-user")

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
    path("settings/", SettingsView.as_view(), name="settings"),
    path("settings/metadata/", SettingsMetadataView.as_view(), name="settings-metadata"),
    path("settings/reset/", SettingsResetView.as_view(), name="settings-reset"),
    path("admin/stats/", StatsView.as_view(), name="admin-stats"),
    path("admin/orphaned-bots/", OrphanedBotsView.as_view(), name="admin-orphaned-bots"),
    path("analytics/performance/", PerformanceView.as_view(), name="analytics-performance"),
    path("analytics/bots/<int:id>/performance/", BotPerformanceView.as_view(),
         name="analytics-bot-performance"),
    path("analytics/bots/<int:id>/risk-metrics/", BotRiskView.as_view(), name="analytics-bot-risk"),
    path("analytics/bots/<int:id>/runs/", BotRunsView.as_view(), name="analytics-bot-runs"),
    path("analytics/bots/<int:id>/trades/", BotTradesView.as_view(), name="analytics-bot-trades"),
    path("analytics/comparison/", ComparisonView.as_view(), name="analytics-comparison"),
    path("analytics/aggregate/summary/", AggregateSummaryView.as_view(),
         name="analytics-aggregate-summary"),
    path("analytics/aggregate/best-worst/", AggregateBestWorstView.as_view(),
         name="analytics-aggregate-best-worst"),
    path("analytics/aggregate/by-symbol/", AggregateBySymbolView.as_view(),
         name="analytics-aggregate-by-symbol"),
    path("analytics/llm-usage/", LlmUsageView.as_view(), name="analytics-llm-usage"),
    path("leaderboard/", LeaderboardView.as_view(), name="leaderboard"),
    path("real-trading/", RealTradingView.as_view(), name="real-trading"),
    path("real-trading/kill-switch/", KillSwitchView.as_view(), name="real-trading-kill-switch"),
    *router.urls,
]
