"""The Linux desktop's menu entry and file type: `genstudio install-desktop-entry` writes them for the
GenStudio that runs it (the app folder's launcher, or this Python's `genstudio-gui`), under
$XDG_DATA_HOME (~/.local/share), so that GenStudio is in the menu and a double-click on a
.genstudio file opens it (freedesktop.org's Desktop Entry and shared-mime-info specifications)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .paths import resource

MIME_TYPE = "application/x-genstudio-experiment"
ENTRY_NAME = "GenStudio.desktop"
ICON_NAME = "genstudio"


def launch_command() -> list[str]:
    """How this GenStudio starts its window: the app folder's executable, else the gui script of this
    environment, else this Python with -m genstudio."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = os.path.join(os.path.dirname(sys.executable), "genstudio-gui")
    if os.path.isfile(script):
        return [script]
    return [sys.executable, "-m", "genstudio"]


def quote_exec_argument(arg: str) -> str:
    """An Exec argument as the Desktop Entry specification wants it: quoted when it holds anything but
    plain characters, with ", `, $ and \\ escaped inside the quotes (and \\ doubled again, as the
    key's string value escapes it once more)."""
    if arg and all(c.isalnum() or c in "/._-+" for c in arg):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return '"' + escaped.replace("\\", "\\\\") + '"'


def entry_text(command: list[str]) -> str:
    exec_line = " ".join(quote_exec_argument(a) for a in command) + " %f"
    return ("[Desktop Entry]\n"
            "Type=Application\n"
            "Name=GenStudio\n"
            "GenericName=Generative model playground\n"
            "Comment=Watch generative models learn, live\n"
            f"Exec={exec_line}\n"
            f"Icon={ICON_NAME}\n"
            "Terminal=false\n"
            "Categories=Education;ArtificialIntelligence;\n"
            f"MimeType={MIME_TYPE};\n"
            "Keywords=GAN;VAE;diffusion;transformer;machine learning;\n")


def mime_xml() -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">\n'
            f'  <mime-type type="{MIME_TYPE}">\n'
            "    <comment>GenStudio experiment</comment>\n"
            '    <glob pattern="*.genstudio"/>\n'
            "  </mime-type>\n"
            "</mime-info>\n")


def install(data_home: str | None = None, command: list[str] | None = None) -> list[str]:
    """Write the entry, its icon and the file type; refresh the desktop's caches where their tools are
    installed. Returns the files written."""
    data_home = data_home or os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    files = {os.path.join(data_home, "applications", ENTRY_NAME): entry_text(command or launch_command()),
             os.path.join(data_home, "mime", "packages", "genstudio.xml"): mime_xml()}
    for path, text in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    icon = os.path.join(data_home, "icons", "hicolor", "256x256", "apps", ICON_NAME + ".png")
    os.makedirs(os.path.dirname(icon), exist_ok=True)
    shutil.copyfile(resource("icon.png"), icon)
    for tool, folder in (("update-mime-database", "mime"), ("update-desktop-database", "applications")):
        if shutil.which(tool):
            subprocess.run([tool, os.path.join(data_home, folder)], capture_output=True, check=False)
    return [*files, icon]
