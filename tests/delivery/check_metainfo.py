#!/usr/bin/python3
"""Check the metainfo facts that appstreamcli cannot check offline.

Usage: check_metainfo.py METAINFO SOURCE_ROOT PROJECT_VERSION

- Every screenshot links a file in this repository through a release tag,
  and that file exists here as a PNG image, so the link works once the tag
  is pushed.
- The newest release is the project's version and is not dated in the
  future.
- The homepage and the screenshots name the same repository.
"""

import datetime
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

HOMEPAGE = "https://github.com/swarmproxy/swarm-proxy"
RAW_URL_PATTERN = re.compile(
    r"^https://raw\.githubusercontent\.com/swarmproxy/swarm-proxy/"
    r"(?P<ref>[^/]+)/(?P<path>.+)$")
TAG_PATTERN = re.compile(r"^v\d+\.\d+\.\d+$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def version_key(version):
    return tuple(int(part) for part in re.findall(r"\d+", version))


def main():
    metainfo_path, source_root, project_version = sys.argv[1:4]
    failures = []
    component = ElementTree.parse(metainfo_path).getroot()

    homepage = component.find("url[@type='homepage']")
    if homepage is None or homepage.text != HOMEPAGE:
        failures.append(f"homepage URL is not {HOMEPAGE}")

    releases = component.findall("releases/release")
    if not releases:
        failures.append("no <release> in <releases>")
        newest_version = None
    else:
        newest = max(releases, key=lambda r: version_key(r.get("version", "0")))
        newest_version = newest.get("version")
        if newest_version != project_version:
            failures.append(f"newest release is {newest_version}, "
                            f"but meson's project version is {project_version}")
    today = datetime.date.today()
    for release in releases:
        date = datetime.date.fromisoformat(release.get("date", "9999-12-31"))
        if date > today:
            failures.append(f"release {release.get('version')} is dated {date}, "
                            f"after today ({today})")
        if release.find("description") is None:
            failures.append(f"release {release.get('version')} has no notes")

    images = component.findall("screenshots/screenshot/image")
    if not images:
        failures.append("no screenshots")
    for image in images:
        url = (image.text or "").strip()
        match = RAW_URL_PATTERN.match(url)
        if match is None:
            failures.append(f"screenshot {url} is not a raw file URL of {HOMEPAGE}")
            continue
        ref = match.group("ref")
        if not TAG_PATTERN.match(ref):
            failures.append(f"screenshot {url} links {ref!r}, not a release tag vX.Y.Z")
        elif newest_version is not None and ref != "v" + newest_version:
            failures.append(f"screenshot {url} links tag {ref}, "
                            f"but the newest release is v{newest_version}")
        local_path = os.path.join(source_root, match.group("path"))
        if not os.path.isfile(local_path):
            failures.append(f"screenshot file {match.group('path')} is missing "
                            f"from the repository")
            continue
        with open(local_path, "rb") as f:
            if f.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
                failures.append(f"screenshot file {match.group('path')} is not a PNG image")

    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print(f"ok: {len(images)} screenshots, newest release {newest_version}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
