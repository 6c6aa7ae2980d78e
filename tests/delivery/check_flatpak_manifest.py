#!/usr/bin/python3
"""Check the Flatpak manifest offline.

flatpak-builder parses the manifest as it would for a build; with
G_DEBUG=fatal-warnings an unknown key aborts it. The sandbox permissions are
compared with the exact list the app needs, so a new permission is a
deliberate change to this file and to the manifest.

Usage: check_flatpak_manifest.py MANIFEST [WORKFLOW]

With WORKFLOW, the GNOME version of its flatpak-github-actions container
must equal the manifest's runtime-version, because the container comes with
that version's SDK installed.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

APP_ID = "io.github.swarmproxy.SwarmProxy"
MIN_GNOME_RUNTIME = 51
CONTAINER_TAG_PATTERN = re.compile(r"flatpak-github-actions:gnome-(\d+)")

# Network for the broker and provider, a display, and the tray watcher. The
# keyring needs no permission because libsecret uses the Secret portal inside
# a sandbox. Adding --talk-name=org.freedesktop.secrets would expose every
# secret the user has.
EXPECTED_FINISH_ARGS = {
    "--share=network",
    "--share=ipc",
    "--socket=wayland",
    "--socket=fallback-x11",
    "--device=dri",
    "--talk-name=org.kde.StatusNotifierWatcher",
}


def check_container_tag(workflow_path, runtime_version, failures):
    with open(workflow_path, encoding="utf-8") as f:
        versions = CONTAINER_TAG_PATTERN.findall(f.read())
    name = os.path.basename(workflow_path)
    if not versions:
        failures.append(f"{name} names no flatpak-github-actions:gnome-N container")
    for version in versions:
        if version != runtime_version:
            failures.append(f"{name} builds in the gnome-{version} container, but the "
                            f"manifest's runtime-version is {runtime_version!r}; "
                            f"set both to the same GNOME version")


def main():
    manifest_path = sys.argv[1]
    workflow_path = sys.argv[2] if len(sys.argv) > 2 else None
    failures = []

    if shutil.which("flatpak-builder") is None:
        print("SKIP: flatpak-builder is not installed")
        return 77

    # flatpak-builder creates its .flatpak-builder state folder in the
    # working directory, so it runs in a scratch one.
    env = dict(os.environ, G_DEBUG="fatal-warnings")
    with tempfile.TemporaryDirectory(prefix="swarm-flatpak-") as scratch:
        result = subprocess.run(
            ["flatpak-builder", "--show-manifest", os.path.abspath(manifest_path)],
            env=env, cwd=scratch, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
        print(f"FAIL: flatpak-builder --show-manifest exited with {result.returncode}")
        return 1

    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)

    if manifest.get("id") != APP_ID:
        failures.append(f"id is {manifest.get('id')!r}, expected {APP_ID!r}")
    if manifest.get("runtime") != "org.gnome.Platform":
        failures.append(f"runtime is {manifest.get('runtime')!r}, expected org.gnome.Platform")
    if manifest.get("sdk") != "org.gnome.Sdk":
        failures.append(f"sdk is {manifest.get('sdk')!r}, expected org.gnome.Sdk")
    runtime_version = str(manifest.get("runtime-version", ""))
    if not runtime_version.isdigit() or int(runtime_version) < MIN_GNOME_RUNTIME:
        failures.append(f"runtime-version is {runtime_version!r}, "
                        f"expected GNOME {MIN_GNOME_RUNTIME} or later")
    if workflow_path is not None:
        check_container_tag(workflow_path, runtime_version, failures)
    if manifest.get("command") != "swarm-proxy":
        failures.append(f"command is {manifest.get('command')!r}, expected swarm-proxy")

    finish_args = set(manifest.get("finish-args", []))
    for arg in sorted(EXPECTED_FINISH_ARGS - finish_args):
        failures.append(f"finish-args lacks {arg}")
    for arg in sorted(finish_args - EXPECTED_FINISH_ARGS):
        failures.append(f"finish-args has {arg}, which the app must not get")

    modules = manifest.get("modules", [])
    app_module = modules[-1] if modules else {}
    if app_module.get("buildsystem") != "meson":
        failures.append("the last module does not build with meson")
    if "-Dgui=enabled" not in app_module.get("config-opts", []):
        failures.append("the app module does not pass -Dgui=enabled")
    sources = app_module.get("sources", [])
    if not any(s.get("type") == "dir" and s.get("path") == ".." for s in sources):
        failures.append("the app module does not build this repository (dir source at ..)")

    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print(f"ok: {manifest_path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
