"""The production static storage: hashed names everywhere, and our ES modules import the
hashed names of their imports (so one release's modules never load another's)."""
from __future__ import annotations

import re

from django.core.management import call_command
from django.test import override_settings


def test_collected_modules_import_hashed_files_and_vendor_files_stay_as_they_are(tmp_path, settings):
    storages = {**settings.STORAGES, "staticfiles": {"BACKEND": "arena.web.storage.StaticStorage"}}
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", "--noinput", verbosity=0)

    modules = (tmp_path / "arena" / "js").glob("dashboard.*.js")
    hashed = next(path for path in modules if re.fullmatch(r"dashboard\.[0-9a-f]{12}\.js", path.name))
    imports = re.findall(r'from\s*"(\./[^"]+)"', hashed.read_text(encoding="utf-8"))
    assert imports, "dashboard.js imports the shared modules"
    assert all(re.fullmatch(r"\./[a-z_]+\.[0-9a-f]{12}\.js", name) for name in imports), imports
    for name in imports:
        assert (tmp_path / "arena" / "js" / name[2:]).exists()
    # htmx's extensions import a bare "htmx": served untouched, not an error.
    assert list((tmp_path / "vendor" / "htmx").glob("htmx.min.*.js"))
