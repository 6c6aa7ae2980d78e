#!/bin/sh
# Validate the built desktop file; any error or warning fails the check.
set -u
desktop_file=$1

if ! command -v desktop-file-validate >/dev/null 2>&1; then
    echo "SKIP: desktop-file-validate is not installed"
    exit 77
fi

report=$(desktop-file-validate "$desktop_file" 2>&1)
status=$?
printf '%s\n' "$report"

if [ "$status" -ne 0 ] || printf '%s\n' "$report" | grep -Eq '(error|warning): '; then
    echo "FAIL: desktop-file-validate reported problems in $desktop_file"
    exit 1
fi
echo "ok: $desktop_file"
exit 0
