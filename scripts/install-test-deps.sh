#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine with only the Rust toolchain.
# Idempotent: does nothing for what is already there.
set -euo pipefail

need_component() {
  rustup component list --installed 2>/dev/null | grep -q "^$1" || rustup component add "$1"
}
if command -v rustup >/dev/null; then
  need_component rustfmt
  need_component clippy
fi
