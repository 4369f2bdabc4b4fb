#!/usr/bin/env bash
# Starts the local PostgreSQL cluster when it is not accepting connections, and makes sure the
# `test` database exists. The default set-up (make demo) never needs PostgreSQL.
set -euo pipefail
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "services: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1; then
  runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname='root'" | grep -q 1 \
    || runuser -u postgres -- psql -qc "CREATE ROLE root SUPERUSER LOGIN"
  runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
    || runuser -u postgres -- createdb -O root test
fi
