#!/bin/sh
# Render the man page with all groff warnings enabled; any warning fails.
set -u
man_page=$1

if ! command -v groff >/dev/null 2>&1; then
    echo "SKIP: groff is not installed"
    exit 77
fi

report=$(groff -man -ww -z -Tutf8 "$man_page" 2>&1)
status=$?
printf '%s\n' "$report"
if [ "$status" -ne 0 ] || [ -n "$report" ]; then
    echo "FAIL: groff reported problems in $man_page"
    exit 1
fi
echo "ok: $man_page"
exit 0
