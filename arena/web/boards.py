"""Pages of this area (see arena/web/__init__.py)."""
from __future__ import annotations

urlpatterns: list = []
