#!/usr/bin/python3
"""Install the build into a scratch DESTDIR and compare the installed files
with the expected list.

Usage: check_install.py MESON BUILD_DIR EXPECTED_LIST GUI NAME=DIR...

GUI is "true" or "false" as the build was configured. In EXPECTED_LIST each
line is a path with @NAME@ placeholders for the directories given as NAME=DIR.
A line starting with "gui " applies only to builds with the GTK app, one
starting with "no-gui " only to builds without it. A path may contain shell
wildcards. A line starting with "optional " may match no file at all, and
"optional" goes after "gui " or "no-gui ".
"""

import fnmatch
import os
import subprocess
import sys
import tempfile


def read_expected(path, gui, directories):
    patterns = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("gui "):
                if not gui:
                    continue
                line = line[len("gui "):]
            elif line.startswith("no-gui "):
                if gui:
                    continue
                line = line[len("no-gui "):]
            optional = line.startswith("optional ")
            if optional:
                line = line[len("optional "):]
            for name, directory in directories.items():
                line = line.replace(f"@{name}@", directory)
            patterns.append((os.path.normpath(line), optional))
    return patterns


def main():
    meson, build_dir, expected_list, gui_arg = sys.argv[1:5]
    directories = dict(arg.split("=", 1) for arg in sys.argv[5:])
    gui = gui_arg == "true"
    patterns = read_expected(expected_list, gui, directories)

    with tempfile.TemporaryDirectory(prefix="swarm-install-") as destdir:
        # --no-rebuild because meson test has already built everything, and a
        # rebuild from inside a test would race with the other tests.
        result = subprocess.run(
            [meson, "install", "-C", build_dir, "--destdir", destdir,
             "--no-rebuild", "--quiet"],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            print(result.stdout + result.stderr)
            print(f"FAIL: meson install exited with {result.returncode}")
            return 1

        installed = []
        for root, _dirs, files in os.walk(destdir):
            for name in files:
                path = os.path.join(root, name)
                installed.append("/" + os.path.relpath(path, destdir))
        installed.sort()

    failures = []
    matched = set()
    for pattern, optional in patterns:
        hits = [path for path in installed if fnmatch.fnmatchcase(path, pattern)]
        matched.update(hits)
        if not hits and not optional:
            failures.append(f"not installed: {pattern}")
    for path in installed:
        if path not in matched:
            failures.append(f"installed but not in {os.path.basename(expected_list)}: {path}")

    print("installed files:")
    for path in installed:
        print(f"  {path}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
