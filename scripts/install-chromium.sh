#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver for the browser tests (`make test-browser`).
#
# Uses apt-get where it can (as root, or through sudo without a password). Where it
# cannot, it says what to install and exits non-zero, so the make target stops there
# instead of running tests that would fail for want of a browser. Nothing else is
# downloaded: selenium is given /usr/bin/chromedriver and never fetches a driver.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; then
    echo "install-chromium: $("$CHROMIUM" --version 2>/dev/null | head -n 1) and chromedriver already installed"
    exit 0
fi

fail() {
    echo "install-chromium: $1" >&2
    echo "install-chromium: install Debian's 'chromium' and 'chromium-driver' packages" \
        "(they provide $CHROMIUM and $CHROMEDRIVER), then run 'make test-browser' again." >&2
    exit 1
}

if ! command -v apt-get >/dev/null 2>&1; then
    fail "apt-get is not available here (not a Debian or Ubuntu system)."
fi

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    fail "installing packages needs root, and sudo without a password is not available."
fi

echo "install-chromium: installing chromium and chromium-driver with apt-get"
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y --no-install-recommends chromium chromium-driver; then
    echo "install-chromium: apt-get install failed; refreshing the package lists and trying again"
    "${as_root[@]}" apt-get update || fail "apt-get update failed."
    "${as_root[@]}" apt-get install -y --no-install-recommends chromium chromium-driver \
        || fail "apt-get could not install chromium and chromium-driver."
fi

[[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]] \
    || fail "apt-get finished but $CHROMIUM or $CHROMEDRIVER is still missing."
echo "install-chromium: $("$CHROMIUM" --version 2>/dev/null | head -n 1) installed"
