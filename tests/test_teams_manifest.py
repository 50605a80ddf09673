"""The Teams app package: a manifest with placeholders for the tenant's values, a command menu
whose every entry the adapter reads as the admin command it names, and the two icons Teams
requires (a 192x192 colour icon and a 32x32 white-on-transparent outline)."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

from adapters.chat.teams_cards import command_of
from bot.texts import say

MANIFEST_DIR = Path(__file__).resolve().parents[1] / "adapters" / "chat" / "teams-manifest"
PLACEHOLDERS = {
    "TEAMS_APP_ID",
    "BOT_APP_ID",
    "ORGANISATION",
    "WEBSITE_URL",
    "PRIVACY_URL",
    "TERMS_URL",
    "PUBLIC_HOSTNAME",
}


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((MANIFEST_DIR / "manifest.json").read_text())
    return data


def test_the_manifest_leaves_the_tenants_values_as_placeholders() -> None:
    text = (MANIFEST_DIR / "manifest.json").read_text()
    assert set(re.findall(r"\{\{([A-Z_]+)\}\}", text)) == PLACEHOLDERS
    data = manifest()
    assert data["manifestVersion"] == "1.17"
    assert data["id"] == "{{TEAMS_APP_ID}}"
    (bot,) = data["bots"]
    assert bot["botId"] == "{{BOT_APP_ID}}"
    assert set(bot["scopes"]) == {"personal", "team"}
    assert len(data["name"]["short"]) <= 30
    assert len(data["description"]["short"]) <= 80
    assert len(data["description"]["full"]) <= 4000
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", data["accentColor"])


def test_every_menu_command_is_an_admin_command() -> None:
    (bot,) = manifest()["bots"]
    help_text = say("admin.help")
    known = set(re.findall(r"/itdesk (\w+)", help_text)) | set(re.findall(r"\| (\w+)", help_text))
    known.add("help")
    assert {"personal", "team"} == {s for cl in bot["commandLists"] for s in cl["scopes"]}
    for command_list in bot["commandLists"]:
        assert 0 < len(command_list["commands"]) <= 10
        for command in command_list["commands"]:
            assert len(command["title"]) <= 32
            assert len(command["description"]) <= 128
            words = command_of(command["title"])
            assert words is not None, command["title"]
            assert words.split()[0] in known, command["title"]


def read_png(path: Path) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, raw pixel rows) of a non-interlaced 8-bit PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    return width, height, colour, zlib.decompress(idat)


def test_the_colour_icon_is_192_square() -> None:
    width, height, _, _ = read_png(MANIFEST_DIR / "color.png")
    assert (width, height) == (192, 192)


def test_the_outline_icon_is_white_on_transparent_32_square() -> None:
    width, height, colour, raw = read_png(MANIFEST_DIR / "outline.png")
    assert (width, height, colour) == (32, 32, 6)  # RGBA
    stride = 1 + width * 4
    pixels = set()
    for row in range(height):
        assert raw[row * stride] == 0  # unfiltered rows, as written
        line = raw[row * stride + 1 : (row + 1) * stride]
        pixels |= {tuple(line[i : i + 4]) for i in range(0, len(line), 4)}
    opaque = {p for p in pixels if p[3]}
    assert opaque == {(255, 255, 255, 255)}
    assert any(p[3] == 0 for p in pixels)
