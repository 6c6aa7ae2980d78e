#!/bin/sh
# Validate the built metainfo offline. appstreamcli exits 0 with warnings in
# some versions, so its report is searched for warnings and errors as well.
# Infos are accepted: appstream 0.16 reports <developer> as an unknown tag,
# but Flathub requires that tag and appstream 1.0 knows it.
set -u
metainfo=$1

if ! command -v appstreamcli >/dev/null 2>&1; then
    echo "SKIP: appstreamcli is not installed"
    exit 77
fi

report=$(appstreamcli validate --no-net --explain "$metainfo" 2>&1)
status=$?
printf '%s\n' "$report"

if [ "$status" -ne 0 ]; then
    echo "FAIL: appstreamcli validate exited with $status"
    exit 1
fi
if printf '%s\n' "$report" | grep -Eq '^[EW]: '; then
    echo "FAIL: appstreamcli reported warnings or errors"
    exit 1
fi
exit 0
