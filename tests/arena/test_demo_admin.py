"""`manage.py demo_admin`: one superuser, one kept password, the same on every run."""
from __future__ import annotations

import io
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.fixture
def var_dir(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("PORT", raising=False)  # the URL's port defaults to $PORT
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_admin", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def printed_password(output: str) -> str:
    line = output.strip().splitlines()[-1]
    assert line.startswith("Admin: http://localhost:8000/admin/  user: admin  password: ")
    return line.rsplit("password: ", 1)[1]


@pytest.mark.django_db
def test_creates_a_superuser_whose_printed_password_works(var_dir):
    password = printed_password(run())

    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.is_active
    assert user.role == "admin"
    assert user.check_password(password)
    assert len(password) >= 20

    kept = var_dir / "demo_admin_password"
    assert kept.read_text().strip() == password
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


@pytest.mark.django_db
def test_second_run_keeps_the_password_and_the_one_user(var_dir):
    first = printed_password(run())
    second = printed_password(run())

    assert second == first
    users = get_user_model().objects.filter(username="admin")
    assert users.count() == 1
    assert users.get().check_password(first)


@pytest.mark.django_db
def test_kept_password_is_applied_again_after_a_change(var_dir):
    password = printed_password(run())
    user = get_user_model().objects.get(username="admin")
    user.set_password("something-else-entirely")
    user.is_superuser = False
    user.save()

    assert printed_password(run()) == password
    user.refresh_from_db()
    assert user.check_password(password)
    assert user.is_superuser


@pytest.mark.django_db
def test_reset_sets_a_new_password(var_dir):
    old = printed_password(run())
    new = printed_password(run("--reset"))

    assert new != old
    user = get_user_model().objects.get(username="admin")
    assert user.check_password(new) and not user.check_password(old)


@pytest.mark.django_db
def test_print_only_changes_nothing(var_dir):
    with pytest.raises(CommandError):
        run("--print-only")
    assert not get_user_model().objects.filter(username="admin").exists()

    password = printed_password(run())
    assert printed_password(run("--print-only")) == password


@pytest.mark.django_db
def test_other_username_and_url(var_dir):
    out = run("--username", "ops", "--host", "arena.local", "--port", "9000")

    assert out.startswith("Admin: http://arena.local:9000/admin/  user: ops  password: ")
    assert get_user_model().objects.get(username="ops").is_superuser
