#!/usr/bin/python3
"""Check the GitHub Actions workflows offline.

Usage: check_workflows.py WORKFLOWS_DIR SOURCE_ROOT

Each workflow must parse as YAML, have triggers and jobs, give every job a
runner and steps, and use only actions from ALLOWED_ACTIONS, pinned to the
major version listed there. A manifest-path given to the Flatpak action
must exist in the repository.
"""

import glob
import os
import sys

try:
    import yaml
except ImportError:
    print("SKIP: PyYAML is not installed (Debian package python3-yaml)")
    sys.exit(77)

# Actions this project trusts, each at the one major version it was written
# against. A new action or a new major version is a deliberate change here.
ALLOWED_ACTIONS = {
    "actions/checkout": "v4",
    "actions/upload-artifact": "v4",
    "actions/download-artifact": "v4",
    "actions/cache": "v4",
    "flatpak/flatpak-github-actions/flatpak-builder": "v6",
    "msys2/setup-msys2": "v2",
}

EXPECTED_WORKFLOWS = ["build.yml", "proxy-smoke.yml", "flatpak.yml", "portability.yml"]


def check_step(where, step, source_root, failures):
    if "uses" not in step and "run" not in step:
        failures.append(f"{where}: step has neither uses nor run")
        return
    if "uses" not in step:
        return
    action, _, version = step["uses"].partition("@")
    expected = ALLOWED_ACTIONS.get(action)
    if expected is None:
        failures.append(f"{where}: action {action} is not in the allowed list")
    elif version != expected:
        failures.append(f"{where}: {action}@{version} should be pinned to @{expected}")
    manifest = step.get("with", {}).get("manifest-path")
    if manifest is not None and not os.path.isfile(os.path.join(source_root, manifest)):
        failures.append(f"{where}: manifest-path {manifest} does not exist")


def check_workflow(path, source_root, failures):
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        try:
            workflow = yaml.safe_load(f)
        except yaml.YAMLError as error:
            failures.append(f"{name}: invalid YAML: {error}")
            return
    if not isinstance(workflow, dict):
        failures.append(f"{name}: not a mapping")
        return
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    if "on" not in workflow and True not in workflow:
        failures.append(f"{name}: no 'on' triggers")
    jobs = workflow.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        failures.append(f"{name}: no jobs")
        return
    for job_id, job in jobs.items():
        where = f"{name} job {job_id}"
        if "runs-on" not in job:
            failures.append(f"{where}: no runs-on")
        steps = job.get("steps")
        if not isinstance(steps, list) or not steps:
            failures.append(f"{where}: no steps")
            continue
        for index, step in enumerate(steps, start=1):
            check_step(f"{where} step {index}", step, source_root, failures)


def main():
    workflows_dir, source_root = sys.argv[1:3]
    failures = []
    paths = sorted(glob.glob(os.path.join(workflows_dir, "*.yml")) +
                   glob.glob(os.path.join(workflows_dir, "*.yaml")))
    names = {os.path.basename(p) for p in paths}
    for expected in EXPECTED_WORKFLOWS:
        if expected not in names:
            failures.append(f"workflow {expected} is missing")
    for path in paths:
        check_workflow(path, source_root, failures)

    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print(f"ok: {len(paths)} workflows")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
