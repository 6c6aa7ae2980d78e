#!/bin/sh
# Check that `swarm-proxy --version` prints the version that the build put
# into swarm-version.h: `git describe` in a checkout, meson's version outside.
set -u
exe=$1
version_header=$2

expected=$(sed -n 's/^#define SWARM_VERSION "\(.*\)"$/\1/p' "$version_header")
if [ -z "$expected" ]; then
    echo "FAIL: no SWARM_VERSION in $version_header"
    exit 1
fi

output=$("$exe" --version 2>&1)
status=$?
echo "swarm-proxy --version: $output"

if [ "$status" -ne 0 ]; then
    echo "FAIL: swarm-proxy --version exited with $status"
    exit 1
fi
case "$output" in
    *"$expected"*) ;;
    *)
        echo "FAIL: the output does not contain the build's version $expected"
        exit 1
        ;;
esac
echo "ok: $expected"
exit 0
