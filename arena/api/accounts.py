"""/api/auth/: register, log in and out (session or token), tokens, me, password."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from arena import accounts
from arena.api.auth import SessionAuthentication, TokenAuthentication
from arena.api.base import StrictModelSerializer, StrictSerializer
from arena.api.errors import ERROR
from arena.models import ApiToken, User
from arena.selectors import tokens_of


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "locked_out"


class WrongCredentials(exceptions.APIException):
    """401 on the login views themselves, which take no authentication (so DRF would turn
    an ``AuthenticationFailed`` into a 403)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "authentication_failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.auth_header = 'Token realm="api"'


class RegistrationClosed(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "registration_closed"


class UserSerializer(StrictModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "display_name", "role", "date_joined", "last_login"]
        read_only_fields = ["id", "username", "role", "date_joined", "last_login"]


class RegisterSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    display_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")


class CredentialsSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})


class TokenRequestSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for.")
    days = serializers.IntegerField(required=False, min_value=1, max_value=accounts.MAX_TOKEN_DAYS,
                                    help_text="Lifetime in days (default 30).")


class TokenLoginSerializer(CredentialsSerializer):
    name = serializers.CharField(max_length=100, required=False, default="script",
                                 help_text="What the token is for.")
    days = serializers.IntegerField(required=False, min_value=1, max_value=accounts.MAX_TOKEN_DAYS)


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["token_key", "name", "created", "expiry"]
        read_only_fields = fields


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once: store it now.")

    class Meta(TokenSerializer.Meta):
        fields = ["token", *TokenSerializer.Meta.fields]
        read_only_fields = fields


class PasswordChangeSerializer(StrictSerializer):
    old_password = serializers.CharField(write_only=True, max_length=128)
    new_password = serializers.CharField(write_only=True, max_length=128)


class PasswordResetRedeemSerializer(StrictSerializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(write_only=True, max_length=128)


def _authenticate(request: Request, username: str, password: str) -> User:
    """Check a password through django-axes: a locked-out pair is refused before the
    password is even tried, and each failure counts towards the lockout."""
    user = authenticate(request._request, username=username, password=password)
    if getattr(request._request, "axes_locked_out", False):
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        raise LockedOut(f"Too many failed logins for '{username}' from your address: try again in "
                        f"{minutes} minutes, or ask an admin to unlock it.")
    if user is None:
        raise WrongCredentials("Wrong username or password (or the account is suspended).")
    return user


def _new_token(token: ApiToken, plain: str) -> dict:
    data = TokenSerializer(token).data
    return {"token": plain, **data}


class CsrfView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(summary="Get a CSRF token (and its cookie) for session requests",
                   responses=inline_serializer("Csrf", {"csrf_token": serializers.CharField()}))
    @method_decorator(ensure_csrf_cookie)
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request._request)})


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "register"

    @extend_schema(summary="Create an account (when registration is open)", request=RegisterSerializer,
                   responses={201: UserSerializer, 400: ERROR, 403: ERROR, 429: ERROR})
    def post(self, request: Request) -> Response:
        form = RegisterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            user = accounts.user_register(**form.validated_data)
        except PermissionError as exc:
            raise RegistrationClosed(str(exc)) from None
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    """Session login for the browser; the request needs the CSRF token like any form."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(summary="Log in (session cookie)", request=CredentialsSerializer,
                   responses={200: UserSerializer, 400: ERROR, 401: ERROR, 403: ERROR, 429: ERROR})
    def post(self, request: Request) -> Response:
        SessionAuthentication().enforce_csrf(request)
        form = CredentialsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = _authenticate(request, **form.validated_data)
        login(request._request, user)
        return Response(UserSerializer(user).data)


class TokenLoginView(APIView):
    """A script's login: the password buys a named token (no cookie, so no CSRF)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(summary="Log in and get an API token", request=TokenLoginSerializer,
                   responses={201: NewTokenSerializer, 400: ERROR, 401: ERROR, 403: ERROR, 429: ERROR})
    def post(self, request: Request) -> Response:
        form = TokenLoginSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        user = _authenticate(request, data["username"], data["password"])
        token, plain = accounts.token_create(user=user, name=data["name"], days=data.get("days"))
        return Response(_new_token(token, plain), status=status.HTTP_201_CREATED)


class TokenRefreshView(APIView):
    authentication_classes = [TokenAuthentication]

    @extend_schema(summary="Extend the token this request carries by a full lifetime", request=None,
                   responses={200: TokenSerializer, 401: ERROR})
    def post(self, request: Request) -> Response:
        token = accounts.token_refresh(token=request.auth)
        return Response(TokenSerializer(token).data)


class LogoutView(APIView):
    @extend_schema(summary="Log out: end the session, or revoke the token this request carries",
                   request=None, responses={204: None, 401: ERROR})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            accounts.token_revoke(user=request.user, token_key=request.auth.token_key)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokensView(APIView):
    @extend_schema(summary="Your API tokens (never the tokens themselves)",
                   responses=TokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = tokens_of(user_id=request.user.pk)
        return Response(TokenSerializer(rows, many=True).data)

    @extend_schema(summary="Make an API token", request=TokenRequestSerializer,
                   responses={201: NewTokenSerializer, 400: ERROR})
    def post(self, request: Request) -> Response:
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, plain = accounts.token_create(user=request.user, **form.validated_data)
        return Response(_new_token(token, plain), status=status.HTTP_201_CREATED)


class TokenView(APIView):
    @extend_schema(summary="Revoke one of your API tokens", responses={204: None, 404: ERROR})
    def delete(self, request: Request, token_key: str) -> Response:
        if not accounts.token_revoke(user=request.user, token_key=token_key):
            raise exceptions.NotFound("You have no token with this key.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(summary="Who you are", responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(summary="Change your e-mail or display name", request=UserSerializer,
                   responses={200: UserSerializer, 400: ERROR})
    def patch(self, request: Request) -> Response:
        form = UserSerializer(request.user, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        user = accounts.user_update(user=request.user, **form.validated_data)
        return Response(UserSerializer(user).data)


class PasswordView(APIView):
    @extend_schema(summary="Change your password", request=PasswordChangeSerializer,
                   responses={204: None, 400: ERROR})
    def post(self, request: Request) -> Response:
        form = PasswordChangeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = accounts.user_password_change(user=request.user, **form.validated_data)
        if not isinstance(request.auth, ApiToken):
            update_session_auth_hash(request._request, user)  # this session stays logged in
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetRedeemView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(summary="Set a new password with a reset an admin issued",
                   request=PasswordResetRedeemSerializer, responses={204: None, 400: ERROR, 429: ERROR})
    def post(self, request: Request) -> Response:
        form = PasswordResetRedeemSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        accounts.password_reset_redeem(**form.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

