"""The shape of the code base, checked: module size and the dependency direction of DESIGN.md.

- No product module (``*.py`` under ``arena/``, ``bots/``, ``trading/``, ``ledger/``, outside
  ``migrations/``) is over ``MAX_MODULE_LINES`` lines; split it into a package instead
  (STYLE.md, "No god objects").
- Imports point down only: ``arena`` → ``bots``, ``trading``, ``ledger``; ``bots`` →
  ``trading``, ``ledger``; ``trading`` → ``ledger``; ``ledger`` → nothing of ours. Every
  ``import`` and ``from … import`` counts, at module level or inside a function.
- No lower layer reaches upward with ``apps.get_model("<app>", …)`` either.

There are no exceptions: a change that breaks a rule splits the module or passes the value
down instead.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("arena", "bots", "trading", "ledger")  # highest first
MAX_MODULE_LINES = 400

# What each app must not import, nor reach with apps.get_model (DESIGN.md, "Dependency direction").
FORBIDDEN = {
    "ledger": {"arena", "bots", "trading"},
    "trading": {"arena", "bots"},
    "bots": {"arena"},
    "arena": set(),
}

def _product_modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _package_of(path: Path) -> list[str]:
    """The dotted package ``path`` belongs to, as parts: bots/tools/registry.py → [bots, tools]."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1]


def _imported_apps(path: Path, tree: ast.AST) -> Iterator[tuple[str, int]]:
    """The top-level package of every import in ``tree`` (relative imports resolved), with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(path)
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                if target:
                    yield target[0], node.lineno
            elif node.module:
                yield node.module.split(".")[0], node.lineno


def _get_model_labels(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """The app label named by every ``….get_model("label", …)`` / ``get_model("label.Model")`` call;
    ``"?"`` when the label is not a string literal (so it cannot be checked and is reported)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = getattr(func, "attr", None) or getattr(func, "id", None)
        if called != "get_model":
            continue
        first = node.args[0] if node.args else next(
            (kw.value for kw in node.keywords if kw.arg in ("app_label", "model_name")), None
        )
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value.split(".")[0], node.lineno
        else:
            yield "?", node.lineno


def _violations(find) -> dict[tuple[str, str], list[str]]:
    """(file, app reached) → where, for every reach upward that ``find`` reports."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in _product_modules():
        app = path.relative_to(ROOT).parts[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, line in find(path, tree):
            if target in FORBIDDEN[app] or (target == "?" and app != "arena"):
                found.setdefault((_name(path), target), []).append(f"{_name(path)}:{line}")
    return found


def test_the_scan_sees_every_app():
    modules = _product_modules()
    assert {path.relative_to(ROOT).parts[0] for path in modules} == set(APPS)
    assert not any("migrations" in path.parts for path in modules)


def test_no_new_module_is_over_the_line_limit():
    over = {
        _name(path): count
        for path in _product_modules()
        if (count := _line_count(path)) > MAX_MODULE_LINES
    }
    assert not over, (
        f"modules over {MAX_MODULE_LINES} lines; split each into a package by concern: "
        + ", ".join(f"{name} ({count} lines)" for name, count in sorted(over.items()))
    )


def test_imports_point_down_only():
    found = _violations(_imported_apps)
    assert not found, "upward imports (DESIGN.md, Dependency direction): " + "; ".join(
        f"{file} imports {target} ({', '.join(where)})" for (file, target), where in sorted(found.items())
    )


def test_no_lower_layer_reaches_up_with_get_model():
    found = _violations(lambda path, tree: _get_model_labels(tree))
    assert not found, "apps.get_model reaching upward (pass the value down instead): " + "; ".join(
        f"{file} gets a model of {'an app it cannot tell' if target == '?' else target} ({', '.join(where)})"
        for (file, target), where in sorted(found.items())
    )


def test_the_scanners_see_every_kind_of_reach():
    # A check that cannot fail is a defect: feed the scanners code that breaks the rules.
    source = (
        "import arena.models\n"
        "from . import values\n"  # ledger/values: its own app
        "from ..trading import risk\n"  # relative, out of ledger/ into trading/
        "def f():\n"
        "    from bots.models import Bot\n"  # inside a function
    )
    found = {target for target, _ in _imported_apps(ROOT / "ledger" / "example.py", ast.parse(source))}
    assert found == {"arena", "ledger", "trading", "bots"}
    calls = 'apps.get_model("bots", "Bot")\napps.get_model("arena.User")\nget_model(label)'
    assert {target for target, _ in _get_model_labels(ast.parse(calls))} == {"bots", "arena", "?"}
