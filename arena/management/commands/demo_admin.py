"""`manage.py demo_admin`: make sure a local superuser exists and print how to log in.

The password is generated once and kept in ``VAR_DIR/demo_admin_password``
(mode 0600), so running the command again — as ``bin/run`` does on every start —
prints the same credentials and never creates a second user. The kept password is
applied again if the user's password was changed, so the printed credentials always
work. It is meant for a developer's machine; a production deployment creates its
staff with ``createsuperuser``.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

PASSWORD_FILE_NAME = "demo_admin_password"


def password_file() -> Path:
    return Path(settings.VAR_DIR) / PASSWORD_FILE_NAME


def read_password(path: Path) -> str | None:
    """The kept password, or None when there is none yet."""
    try:
        password = path.read_text().strip()
    except FileNotFoundError:
        return None
    return password or None


def write_password(path: Path, password: str) -> None:
    """Write the password readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{password}\n".encode())
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)  # in case the file existed with a looser mode
    os.replace(tmp, path)


class Command(BaseCommand):
    help = (
        "Ensure a superuser (default 'admin', role admin) exists with the password kept in "
        "VAR_DIR/demo_admin_password, and print the admin URL and credentials. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin", help="Superuser name (default: admin).")
        parser.add_argument(
            "--host", default="localhost", help="Host shown in the admin URL (default: localhost)."
        )
        parser.add_argument(
            "--port",
            default=os.environ.get("PORT") or "8000",
            help="Port shown in the admin URL (default: $PORT or 8000).",
        )
        parser.add_argument(
            "--print-only",
            action="store_true",
            help="Only print the kept credentials; change nothing.",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Generate a new password even if one is kept, and set it.",
        )

    def handle(self, *args: object, **options: object) -> None:
        username = str(options["username"])
        path = password_file()
        password = None if options["reset"] else read_password(path)

        if options["print_only"]:
            if password is None:
                raise CommandError(f"No demo admin password kept in {path}: run demo_admin first.")
            self._print(options, username, password)
            return

        if password is None:
            password = secrets.token_urlsafe(18)
            write_password(path, password)
            action = "set"
        else:
            action = "kept"

        created = self._ensure_superuser(username, password)
        if created:
            self.stderr.write(f"Created superuser {username!r}.")
        elif action == "set":
            self.stderr.write(f"Set a new password for superuser {username!r}.")
        self._print(options, username, password)

    @transaction.atomic
    def _ensure_superuser(self, username: str, password: str) -> bool:
        """Create the superuser, or bring an existing one back to superuser + kept password.

        Returns whether the user was created.
        """
        User = get_user_model()
        user = User.objects.select_for_update().filter(username=username).first()
        created = user is None
        if user is None:
            user = User(username=username)
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        if hasattr(User, "Role"):
            user.role = User.Role.ADMIN
        if created or not user.check_password(password):
            user.set_password(password)
        user.save()
        return created

    def _print(self, options: dict, username: str, password: str) -> None:
        url = f"http://{options['host']}:{options['port']}/admin/"
        self.stdout.write(f"Admin: {url}  user: {username}  password: {password}")
