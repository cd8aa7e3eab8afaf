"""A bot's avatar through the API: images only, checked by their bytes, renamed, bounded."""
from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bots.avatars import MAX_AVATAR_BYTES, avatar_kind
from bots.models import Bot
from tests.arena.api_helpers import client_for, error_of

pytestmark = pytest.mark.django_db
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(client, bot, name, content):
    data = {"avatar": SimpleUploadedFile(name, content)}
    return client.patch(f"/api/bots/{bot.pk}/", data, format="multipart")


def test_a_png_is_stored_under_a_name_of_ours(user, bot):
    response = upload(client_for(user), bot, "../../evil name.svg", PNG)
    assert response.status_code == 200, response.json()
    bot.refresh_from_db()
    assert bot.avatar.name.startswith("avatars/") and bot.avatar.name.endswith(".png")
    assert "evil" not in bot.avatar.name and response.json()["avatar"].endswith(".png")
    assert bot.avatar.read() == PNG


@pytest.mark.parametrize(("name", "content"), [
    ("x.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
    ("x.png", b"not an image at all"),
    ("x.png", PNG[:8] + b"\0" * (MAX_AVATAR_BYTES + 1)),
])
def test_anything_but_a_small_raster_image_is_refused(user, bot, name, content):
    response = upload(client_for(user), bot, name, content)
    assert response.status_code == 400 and "avatar" in error_of(response)["fields"]
    assert Bot.objects.get(pk=bot.pk).avatar.name == ""


def test_null_removes_the_avatar(user, bot):
    client = client_for(user)
    upload(client, bot, "a.png", PNG)
    assert client.patch(f"/api/bots/{bot.pk}/", {"avatar": None}, format="json").status_code == 200
    assert Bot.objects.get(pk=bot.pk).avatar.name == ""


def test_formats_are_told_by_their_bytes():
    assert [avatar_kind(h) for h in (PNG, b"\xff\xd8\xff\xe0", b"GIF89a..", b"RIFF\0\0\0\0WEBPVP8 ")] == [
        "png", "jpg", "gif", "webp"]
    assert avatar_kind(b"<svg") is None
