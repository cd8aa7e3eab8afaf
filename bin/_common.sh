# Shared by bin/run, bin/test and .ci/run (sourced, not executed): find the
# project root and keep .venv installed from a pinned requirements file.
# shellcheck shell=bash

ARENA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARENA_VENV="$ARENA_ROOT/.venv"

arena_say() { printf '==> %s\n' "$*" >&2; }
arena_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run apt-get non-interactively, refreshing the package lists at most once per process.
arena_apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    [ "$(id -u)" = 0 ] || return 1
    if [ -z "${ARENA_APT_UPDATED:-}" ]; then
        arena_say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        ARENA_APT_UPDATED=1
    fi
    arena_say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

arena_python() {
    local py="${PYTHON:-python3}"
    command -v "$py" >/dev/null 2>&1 || arena_die "$py not found: install Python 3.11 or newer (or set PYTHON)."
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || arena_die "$py is $("$py" -V 2>&1): the arena needs Python 3.11 or newer (set PYTHON)."
    printf '%s\n' "$py"
}

# Create .venv if it is missing or broken.
arena_make_venv() {
    if [ -x "$ARENA_VENV/bin/python" ] && "$ARENA_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    local py
    py="$(arena_python)"
    rm -rf "$ARENA_VENV"
    arena_say "Creating virtualenv .venv with $("$py" -V 2>&1)"
    if ! "$py" -m venv "$ARENA_VENV" >/dev/null 2>&1; then
        # Debian ships venv/ensurepip separately (python3-venv).
        rm -rf "$ARENA_VENV"
        local minor
        minor="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        arena_apt_install python3-venv "python${minor}-venv" || arena_apt_install python3-venv \
            || arena_die "'$py -m venv' failed: install the python3-venv package and run again."
        "$py" -m venv "$ARENA_VENV" || arena_die "'$py -m venv' failed even with python3-venv installed."
    fi
}

# arena_ensure_requirements FILE: pip install FILE into .venv unless the same
# requirement files (and Python) were installed already, as recorded in a stamp.
arena_ensure_requirements() {
    local req="$ARENA_ROOT/$1" stamp hash
    arena_make_venv
    stamp="$ARENA_VENV/.installed-$(basename "$req").sha256"
    # requirements-dev.txt includes requirements.txt, so hash both.
    hash="$( { cat "$req" "$ARENA_ROOT/requirements.txt"; "$ARENA_VENV/bin/python" -V; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
        return 0
    fi
    arena_say "Installing $(basename "$req") into .venv"
    "$ARENA_VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" \
        || arena_die "pip install -r $(basename "$req") failed."
    printf '%s\n' "$hash" >"$stamp"
}

# arena_local_env: the environment bin/run runs the arena with, for bin/run and bin/manage:
# DEBUG on unless set, var/ as ARENA_VAR_DIR, and a private SECRET_KEY kept in
# var/secret_key (generated once, 0600) unless SECRET_KEY is set. Needs .venv on PATH.
arena_local_env() {
    export DJANGO_SETTINGS_MODULE=arena.settings
    export DEBUG="${DEBUG:-1}"
    local var_dir="${ARENA_VAR_DIR:-$ARENA_ROOT/var}"
    mkdir -p "$var_dir"
    ARENA_VAR_DIR="$(cd "$var_dir" && pwd)"
    export ARENA_VAR_DIR
    if [ -z "${SECRET_KEY:-}" ]; then
        local key_file="$ARENA_VAR_DIR/secret_key"
        if [ ! -s "$key_file" ]; then
            arena_say "Generating SECRET_KEY in ${key_file#"$ARENA_ROOT"/}"
            (umask 077 && "$ARENA_VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$key_file.tmp")
            mv "$key_file.tmp" "$key_file"
        fi
        chmod 600 "$key_file"
        SECRET_KEY="$(cat "$key_file")"
        export SECRET_KEY
    fi
}

# arena_ensure_npm: install the browser libraries of package-lock.json into node_modules
# (`npm ci`) unless that lockfile was installed already, as recorded in a stamp. The pages
# serve them as static files; nothing is fetched from a CDN.
arena_ensure_npm() {
    local stamp="$ARENA_ROOT/node_modules/.installed-package-lock.sha256" hash
    command -v npm >/dev/null 2>&1 || arena_apt_install npm || arena_die "npm not found: install Node.js and npm."
    hash="$(sha256sum "$ARENA_ROOT/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
        return 0
    fi
    arena_say "Installing package-lock.json into node_modules (npm ci)"
    (cd "$ARENA_ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || arena_die "npm ci failed."
    printf '%s\n' "$hash" >"$stamp"
}
