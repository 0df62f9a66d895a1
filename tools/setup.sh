#!/bin/sh
# Creates the virtual environment and installs divfit with its test extras.
# On a fresh Debian/Ubuntu machine `python3 -m venv` needs the python3-venv
# package: installed here when running as root, else named in the message.
# `setup.sh browser` only makes sure the browser tests' Chromium, axe-core and vnu.jar are there;
# `setup.sh lighthouse` that `make bench` has Lighthouse.
set -eu
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing $* with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "setup: missing system packages; run: sudo apt-get install -y $*" >&2
        exit 1
    fi
}

if [ "${1:-}" = lighthouse ]; then
    # `make bench` scores the pages with Lighthouse (from npm, run on Debian's Chromium)
    [ -x /usr/bin/chromium ] || apt_install chromium
    if [ ! -x "$VENV/node/node_modules/.bin/lighthouse" ]; then
        command -v npm >/dev/null 2>&1 || apt_install npm
        echo "setup: installing Lighthouse from npm into $VENV/node" >&2
        npm install --silent --no-audit --no-fund --prefix "$VENV/node" lighthouse@12 >/dev/null
    fi
    exit 0
fi

if [ "${1:-}" = browser ]; then
    # the browser tests drive Debian's Chromium; Playwright downloads no browser here
    [ -x /usr/bin/chromium ] || apt_install chromium
    # and check the pages with axe-core (the accessibility engine Lighthouse uses), from npm
    # and check the pages with axe-core (the accessibility engine Lighthouse uses) and the
    # W3C's Nu HTML checker (vnu.jar, which needs Java), both from npm
    if [ ! -f "$VENV/node/node_modules/axe-core/axe.min.js" ] || [ ! -f "$VENV/node/node_modules/vnu-jar/build/dist/vnu.jar" ]; then
        command -v npm >/dev/null 2>&1 || apt_install npm
        echo "setup: installing axe-core and vnu-jar from npm into $VENV/node" >&2
        npm install --silent --no-audit --no-fund --prefix "$VENV/node" axe-core@4.14 vnu-jar@26 >/dev/null
    fi
    command -v java >/dev/null 2>&1 || apt_install default-jre-headless
    exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || apt_install python3
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
fi
# manim's text and drawing packages (manimpango, pycairo) build against Cairo and Pango
if ! pkg-config --exists cairo pangocairo 2>/dev/null; then
    apt_install libcairo2-dev libpango1.0-dev pkg-config
fi
echo "setup: installing divfit and its dependencies into $VENV (log: $VENV/setup.log)" >&2
pip_install() {
    "$VENV/bin/python" -m pip install --disable-pip-version-check "$@" >>"$VENV/setup.log" 2>&1 || {
        tail -n 30 "$VENV/setup.log" >&2
        echo "setup: pip install $* failed (full log: $VENV/setup.log)" >&2
        exit 1
    }
}
: >"$VENV/setup.log"
pip_install --upgrade pip
pip_install -e '.[test]'
