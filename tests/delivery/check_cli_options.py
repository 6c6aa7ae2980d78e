#!/usr/bin/python3
"""Check that the man page and the bash completion offer the options that
the program accepts.

Usage: check_cli_options.py EXE COMPLETION MAN_PAGE

For each subcommand, and for the global options, the options listed by
`swarm-proxy [SUBCOMMAND] --help` must equal the ones the completion offers
there, and each must appear in the man page. GLib's own --help-all and
--help-GROUP options are left out.
"""

import re
import subprocess
import sys

# None stands for the global options, given before any subcommand.
SUBCOMMANDS = [None, "broker", "provider", "ticket", "share"]
OPTION_PATTERN = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
# GLib's help lists options in sections headed "Help Options:" or
# "Application Options:", one per indented line such as "  -h, --help" or
# "  --listen=HOST:PORT", and a blank line ends each section.
OPTION_LINE_PATTERN = re.compile(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)")


def options_in_help(exe, subcommand):
    """Return the options that `swarm-proxy [SUBCOMMAND] --help` lists;
    subcommand None lists the global options."""
    command = [exe, "--help"] if subcommand is None else [exe, subcommand, "--help"]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with "
                           f"{result.returncode}: {result.stderr.strip()}")
    options = set()
    in_options_section = False
    for line in result.stdout.splitlines():
        if line.strip().endswith("Options:"):
            in_options_section = True
        elif not line.strip():
            in_options_section = False
        elif in_options_section:
            match = OPTION_LINE_PATTERN.match(line)
            if match is not None:
                options.add(match.group(1))
    return {o for o in options if not o.startswith("--help-")}


def options_in_completion(completion_text, subcommand):
    if subcommand is None:
        match = re.search(r'global_options="([^"]*)"', completion_text)
        return None if match is None else set(match.group(1).split())
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
        name = subcommand or "swarm-proxy without a subcommand"
        completed = options_in_completion(completion_text, subcommand)
        if completed is None:
            failures.append(f"the completion has no case for {name}")
            continue
        for option in sorted(accepted - completed):
            failures.append(f"{name} accepts {option}, the completion lacks it")
        for option in sorted(completed - accepted):
            failures.append(f"the completion offers {option} for {name}, "
                            f"which its --help does not list")
        for option in sorted(accepted - man_options):
            failures.append(f"{name} accepts {option}, the man page lacks it")

    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("ok: --help, completion and man page list the same options")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
