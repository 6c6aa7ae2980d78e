#!/usr/bin/python3
"""Check that the man page and the bash completion offer the options that
the program accepts.

Usage: check_cli_options.py EXE COMPLETION MAN_PAGE

For each subcommand, and for the global options, the options listed by
`swarm-proxy [SUBCOMMAND] --help` must equal the ones the completion offers
there, and each must appear in the man page. GLib's own --help-all and
--help-GROUP options are left out. Only the provider reads the token
variable, so only its --help may list it.
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
TOKEN_VARIABLE = "SWARM_PROXY_TOKEN"
TOKEN_SUBCOMMANDS = {"provider"}


def run_help(exe, subcommand):
    """Return the stdout of `swarm-proxy [SUBCOMMAND] --help`."""
    command = [exe, "--help"] if subcommand is None else [exe, subcommand, "--help"]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with "
                           f"{result.returncode}: {result.stderr.strip()}")
    return result.stdout


def options_in_help(help_text):
    """Return the options that a --help output lists."""
    options = set()
    in_options_section = False
    for line in help_text.splitlines():
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
            help_text = run_help(exe, subcommand)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            failures.append(str(error))
            continue
        accepted = options_in_help(help_text)
        name = subcommand or "swarm-proxy without a subcommand"
        lists_token_variable = TOKEN_VARIABLE in help_text
        if lists_token_variable and subcommand not in TOKEN_SUBCOMMANDS:
            failures.append(f"the --help of {name} lists {TOKEN_VARIABLE}, "
                            f"which only the provider reads")
        elif not lists_token_variable and subcommand in TOKEN_SUBCOMMANDS:
            failures.append(f"the --help of {name} lacks {TOKEN_VARIABLE}")
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
