"""Cursor pagination for every list: stable under inserts, cheap at any depth."""
from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    """Newest first by id; ``page_size`` up to 500; follow ``next`` for older rows.

    A cursor paginates by an indexed column (``WHERE id < …``), so page 10,000 costs
    what page 1 does, and rows written while a client pages never shift its pages.
    """

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            # A cursor is a parameter: one that is not ours is a bad request, not a missing page.
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["Invalid cursor: use the next or previous link of a page."]}
            ) from None
