#!/usr/bin/env bash
# Starts the system services the node-collector tests read from, when they are not running:
# systemd-journald (started by hand: systemd is not PID 1 on CI machines).
# Idempotent. Needs root.
set -euo pipefail

if [[ ! -S /run/systemd/journal/socket ]]; then
  journald=/lib/systemd/systemd-journald
  [[ -x $journald ]] || journald=/usr/lib/systemd/systemd-journald
  echo "starting $journald"
  nohup "$journald" >/dev/null 2>&1 &
  for _ in $(seq 50); do
    [[ -S /run/systemd/journal/socket ]] && break
    sleep 0.1
  done
  [[ -S /run/systemd/journal/socket ]] || { echo "systemd-journald did not start" >&2; exit 1; }
fi
