#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing:
# Java 17 for the local Spark session, Chromium for the browser tests (Debian's package: the
# hospital-network rule forbids browser downloads), PostgreSQL for the Django tests, pango for
# WeasyPrint (PDF packets).
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
# pango for WeasyPrint (the staff reappointment packet as PDF, extra `pdf`).
ldconfig -p | grep -q libpangoft2-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${need[*]}; install them (root needed)" >&2
  exit 1
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
