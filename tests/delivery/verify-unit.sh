#!/bin/sh
# Check the broker's systemd unit with systemd-analyze, offline: the unit
# must parse without warnings, and its exposure score must stay at or under
# 2.0 of 10 (threshold 20 of 100).
set -u
unit_template=$1
exe=$2

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze is not installed"
    exit 77
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# ExecStart must name an existing executable for verify, so the installed
# path is replaced by the one in the build folder.
exe_dir=$(cd "$(dirname "$exe")" && pwd)
sed "s|@bindir@|$exe_dir|g" "$unit_template" > "$scratch/swarm-proxy-broker.service"

# --man=no: the man page is not installed yet while the build is tested.
report=$(cd "$scratch" && systemd-analyze verify --man=no swarm-proxy-broker.service 2>&1)
status=$?
printf '%s\n' "$report"
if [ "$status" -ne 0 ] || [ -n "$report" ]; then
    echo "FAIL: systemd-analyze verify reported problems"
    exit 1
fi

if ! systemd-analyze security --offline=true --threshold=20 \
        "$scratch/swarm-proxy-broker.service" > "$scratch/security.txt" 2>&1; then
    cat "$scratch/security.txt"
    echo "FAIL: the unit's exposure score is above 2.0"
    exit 1
fi
tail -n 1 "$scratch/security.txt"
exit 0
