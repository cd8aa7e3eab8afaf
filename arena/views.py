"""Small views of the arena as a whole."""
from __future__ import annotations

from django.db import DatabaseError, connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response


# Declared so schema generation (run by `check --deploy`) does not warn about it.
@extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])  # public on purpose: load balancers and uptime probes
def health(request: Request) -> Response:
    """Liveness and database reachability; 503 when the database does not answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return Response({"status": "error", "database": str(exc)}, status=503)
    return Response({"status": "ok", "database": "ok"})
