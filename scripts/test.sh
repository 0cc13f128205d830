#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then formatting, lints and tests.
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-test-deps.sh
./scripts/start-test-services.sh

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

echo "== cargo doc (warnings are errors: broken links, unclosed tags)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

echo "== cargo test"
cargo test --workspace --all-features --locked
