#!/usr/bin/python3
"""Check that every file naming the app id spells it the same way.

Usage: check_app_id.py SOURCE_ROOT APP_ID

The desktop file, the metainfo, the icons, the GSettings schema and the
Flatpak manifest must agree, or the desktop, the software centre and Flatpak
fail to connect the app's parts.
"""

import configparser
import json
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

# Reverse-DNS with 3 to 5 components, where only the last may contain a dash.
APP_ID_PATTERN = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){1,3}\.[A-Za-z_][\w-]*$")


def main():
    source_root, app_id = sys.argv[1:3]
    failures = []

    if not APP_ID_PATTERN.match(app_id):
        failures.append(f"{app_id} is not a reverse-DNS id of 3 to 5 components")

    data = os.path.join(source_root, "data")
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str
    desktop.read(os.path.join(data, app_id + ".desktop.in"), encoding="utf-8")
    icon = desktop.get("Desktop Entry", "Icon", fallback=None)
    if icon != app_id:
        failures.append(f"desktop file Icon is {icon!r}, expected {app_id!r}")

    metainfo = ElementTree.parse(os.path.join(data, app_id + ".metainfo.xml.in")).getroot()
    if metainfo.findtext("id") != app_id:
        failures.append(f"metainfo <id> is {metainfo.findtext('id')!r}")
    launchable = metainfo.find("launchable[@type='desktop-id']")
    if launchable is None or launchable.text != app_id + ".desktop":
        failures.append(f"metainfo has no <launchable type=\"desktop-id\">{app_id}.desktop")

    icons = [
        ("scalable", app_id + ".svg"),
        ("symbolic", app_id + "-symbolic.svg"),
        ("symbolic", app_id + "-sharing-symbolic.svg"),
        ("symbolic", app_id + "-active-symbolic.svg"),
    ]
    for size, name in icons:
        path = os.path.join(data, "icons", "hicolor", size, "apps", name)
        if not os.path.isfile(path):
            failures.append(f"icon {os.path.relpath(path, source_root)} is missing")
        else:
            ElementTree.parse(path)

    schema_path = os.path.join(data, app_id + ".gschema.xml")
    if not os.path.isfile(schema_path):
        failures.append(f"GSettings schema {os.path.relpath(schema_path, source_root)} "
                        f"is missing")
    else:
        schema_ids = [s.get("id") for s in ElementTree.parse(schema_path).getroot()]
        if app_id not in schema_ids:
            failures.append(f"GSettings schema ids are {schema_ids}, none is {app_id}")
        for schema_id in schema_ids:
            if schema_id != app_id and not schema_id.startswith(app_id + "."):
                failures.append(f"GSettings schema id {schema_id} is outside {app_id}")

    manifest_path = os.path.join(source_root, "flatpak", app_id + ".json")
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    if manifest.get("id") != app_id:
        failures.append(f"Flatpak manifest id is {manifest.get('id')!r}")

    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print(f"ok: {app_id} in desktop file, metainfo, icons, schema and manifest")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
