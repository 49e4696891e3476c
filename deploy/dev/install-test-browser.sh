#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; Playwright's own browser
# download is not used). Idempotent: quick when already installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "[install-test-browser] $(chromium --version 2>/dev/null | head -1)"
  exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
$SUDO apt-get install -y -qq chromium >/dev/null
echo "[install-test-browser] $(chromium --version 2>/dev/null | head -1)"
