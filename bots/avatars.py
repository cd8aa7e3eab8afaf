"""A bot's avatar: a small raster image, checked by its bytes (never by the name or the
type the client claims), and stored under a name of our own."""
from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

MAX_AVATAR_BYTES = 512 * 1024
# The formats a browser shows as an <img> and that carry no script (SVG does: refused).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def avatar_kind(head: bytes) -> str | None:
    """The image format ``head`` (the file's first bytes) starts, or None."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def avatar_checked(upload: UploadedFile) -> UploadedFile:
    """``upload`` renamed ``<random>.<format>`` if it is a PNG, JPEG, GIF or WebP of at most
    512 KiB; else a ``ValidationError`` saying what is accepted."""
    if upload.size is not None and upload.size > MAX_AVATAR_BYTES:
        raise ValidationError(f"An avatar is at most {MAX_AVATAR_BYTES // 1024} KiB; this one is "
                              f"{upload.size // 1024} KiB.")
    upload.seek(0)
    kind = avatar_kind(upload.read(16))
    upload.seek(0)
    if kind is None:
        raise ValidationError("An avatar is a PNG, JPEG, GIF or WebP image.")
    upload.name = f"{uuid.uuid4().hex}.{kind}"
    return upload
