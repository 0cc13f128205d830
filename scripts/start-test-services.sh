#!/usr/bin/env bash
# Starts the system services the node-collector tests read from, when they are not running:
# systemd-journald (started by hand: systemd is not PID 1 on CI machines).
# Idempotent. Needs root.
set -euo pipefail

# A socket file is not proof of a running journald: one that died (or a machine restored
# from a snapshot) leaves its sockets behind. Writing a probe entry is.
journald_answers() { echo "tapio test-services probe" | systemd-cat -t tapio-probe 2>/dev/null; }

if ! journald_answers; then
  journald=/lib/systemd/systemd-journald
  [[ -x $journald ]] || journald=/usr/lib/systemd/systemd-journald
  echo "starting $journald"
  nohup "$journald" >/dev/null 2>&1 &
  for _ in $(seq 50); do
    journald_answers && break
    sleep 0.1
  done
  journald_answers || { echo "systemd-journald did not start" >&2; exit 1; }
fi
