"""The Linux menu entry and the .genstudio file type, as `genstudio install-desktop-entry` writes them."""
from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from genstudio.desktop_entry import MIME_TYPE, entry_text, install, quote_exec_argument


def test_exec_arguments_are_quoted_as_the_specification_says():
    assert quote_exec_argument("/opt/GenStudio/GenStudio") == "/opt/GenStudio/GenStudio"
    assert quote_exec_argument("/home/a b/GenStudio") == '"/home/a b/GenStudio"'
    assert quote_exec_argument('/x/$HOME"q') == '"/x/\\\\$HOME\\\\"q"'


def test_the_installed_entry_is_valid_and_declares_the_file_type(tmp_path):
    command = [str(tmp_path / "my apps" / "GenStudio")]
    written = install(str(tmp_path / "share"), command)
    entry = tmp_path / "share" / "applications" / "GenStudio.desktop"
    assert str(entry) in written and all(os.path.exists(p) for p in written)
    text = entry.read_text(encoding="utf-8")
    assert f'Exec="{command[0]}" %f' in text and f"MimeType={MIME_TYPE};" in text and "Icon=genstudio" in text
    mime = ET.parse(tmp_path / "share" / "mime" / "packages" / "genstudio.xml").getroot()
    kind = mime.find("{http://www.freedesktop.org/standards/shared-mime-info}mime-type")
    assert kind.get("type") == MIME_TYPE
    assert kind.find("{http://www.freedesktop.org/standards/shared-mime-info}glob").get("pattern") == "*.genstudio"
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
    done = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_a_source_install_launches_its_own_window():
    text = entry_text(["/usr/bin/python3", "-m", "genstudio"])
    assert "Exec=/usr/bin/python3 -m genstudio %f" in text
