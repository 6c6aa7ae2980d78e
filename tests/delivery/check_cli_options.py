#!/usr/bin/python3
"""Check that the man page and the bash completion offer the options that
the program accepts.

Usage: check_cli_options.py EXE COMPLETION MAN_PAGE

For each subcommand, the options listed by `swarm-proxy SUBCOMMAND --help`
must equal the ones the completion offers for it, and each must appear in
the man page. GLib's own --help-all and --help-GROUP options are left out.
"""

import re
import subprocess
import sys

SUBCOMMANDS = ["broker", "provider", "ticket", "share"]
OPTION_PATTERN = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
# GLib's help puts each option at the start of an indented line, as
# "  -h, --help" or "  --listen=ADDR", and the rest of the line is its help text.
HELP_LINE_PATTERN = re.compile(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", re.MULTILINE)


def options_in_help(exe, subcommand):
    result = subprocess.run([exe, subcommand, "--help"], capture_output=True,
                            text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"swarm-proxy {subcommand} --help exited with "
                           f"{result.returncode}: {result.stderr.strip()}")
    options = set(HELP_LINE_PATTERN.findall(result.stdout))
    return {o for o in options if not o.startswith("--help-")}


def options_in_completion(completion_text, subcommand):
    match = re.search(rf"^\s*{subcommand}\)\s*\n\s*options=\"([^\"]*)\"",
                      completion_text, re.MULTILINE)
    if match is None:
        return None
    return set(match.group(1).split())


def main():
    exe, completion_path, man_path = sys.argv[1:4]
    with open(completion_path, encoding="utf-8") as f:
        completion_text = f.read()
    with open(man_path, encoding="utf-8") as f:
        man_options = set(OPTION_PATTERN.findall(f.read().replace("\\-", "-")))

    failures = []
    for subcommand in SUBCOMMANDS:
        try:
            accepted = options_in_help(exe, subcommand)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            failures.append(str(error))
            continue
        completed = options_in_completion(completion_text, subcommand)
        if completed is None:
            failures.append(f"the completion has no case for {subcommand}")
            continue
        for option in sorted(accepted - completed):
            failures.append(f"{subcommand} accepts {option}, the completion lacks it")
        for option in sorted(completed - accepted):
            failures.append(f"the completion offers {option} for {subcommand}, "
                            f"which its --help does not list")
        for option in sorted(accepted - man_options):
            failures.append(f"{subcommand} accepts {option}, the man page lacks it")

    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("ok: --help, completion and man page list the same options")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
