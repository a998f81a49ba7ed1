#!/usr/bin/env bash
# Installs what the dashboard's browser tests drive: Debian's chromium and
# chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver). Does nothing
# when chromedriver is already there; uses sudo when not run as root.
set -euo pipefail

if [[ -x /usr/bin/chromedriver && -x /usr/bin/chromium ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-browser: no apt-get here; install chromium and its chromedriver so that" >&2
  echo "  /usr/bin/chromium and /usr/bin/chromedriver exist (or set SURGE_CHROMIUM and" >&2
  echo "  SURGE_CHROMEDRIVER to their paths)" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
echo "== installing chromium and chromium-driver (the dashboard's browser tests)"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver
