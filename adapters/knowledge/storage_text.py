"""A Confluence page's storage format (XHTML with `ac:` macros and `ri:` resources) as the
plain, markdown-like text a runbook holds: what retrieval indexes and what the desk quotes.

Kept: headings (`#`), paragraphs, lists (`-`, `1.`, nested by indent), tables (one line a row,
cells joined by ` | `), code blocks and the `code` macro's body (fenced), the text of
info/note/warning/tip panels (labelled), task lists, the text of links. Dropped: images,
attachments, emoticons, placeholders, and anything executable or raw (`script`, `style`,
the `html` macro). Entities are decoded.

The body is parsed as XML, strictly: a page that is not well-formed is a
`StorageFormatError`, skipped by the reader rather than indexed half-read. Parsing inside
the desk's own root element means a page cannot bring a DTD, so no entity of its own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.entities import name2codepoint

__all__ = ["StorageFormatError", "storage_text"]

_AC = "http://atlassian.com/content"
_RI = "http://atlassian.com/resource/identifier"
_ROOT = f'<page xmlns:ac="{_AC}" xmlns:ri="{_RI}" xmlns:at="urn:atlassian:template">'
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_SPACE = re.compile(r"\s+")

_DROPPED = frozenset({"script", "style", "img", "object", "iframe", "embed", "ac:image",
                      "ri:attachment", "ac:emoticon", "ac:placeholder",
                      "ac:parameter"})  # fmt: skip
_DROPPED_MACROS = frozenset({"html", "html-include", "toc", "children", "attachments",
                             "gallery", "viewfile", "view-file", "jira", "widget",
                             "anchor"})  # fmt: skip
_PANELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": ""}
_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre",
                     "blockquote", "div", "section", "hr", "ac:structured-macro",
                     "ac:task-list", "ac:layout", "ac:layout-section", "ac:layout-cell",
                     "ac:rich-text-body"})  # fmt: skip


class StorageFormatError(ValueError):
    """A page body that is not well-formed storage format."""


def storage_text(storage: str) -> str:
    """The text of a page body in storage format, blocks separated by a blank line."""
    try:
        root = ET.fromstring(_ROOT + _ENTITY.sub(_entity, _CDATA.sub(_cdata, storage)) + "</page>")
    except ET.ParseError as exc:
        raise StorageFormatError(f"not well-formed storage format ({exc})") from None
    return "\n\n".join(b for b in _blocks(root) if b.strip()).strip()


def _cdata(match: re.Match[str]) -> str:
    return match.group(1).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    code = name2codepoint.get(name)
    return f"&#{code};" if code is not None else f"&amp;{name};"


def _tag(element: ET.Element) -> str:
    tag = element.tag
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        prefix = {_AC: "ac", _RI: "ri"}.get(namespace, "x")
        return f"{prefix}:{local}"
    return tag.lower()


def _blocks(element: ET.Element) -> list[str]:
    """The blocks inside a container: runs of inline content become paragraphs."""
    found: list[str] = []
    run: list[str] = [element.text or ""]
    for child in element:
        tag = _tag(child)
        if tag in _BLOCKS:
            found.append(_collapse("".join(run)))
            found.extend(_block(child, tag))
            run = []
        else:
            run.append(_inline(child))
        run.append(child.tail or "")
    found.append(_collapse("".join(run)))
    return [b for b in found if b]


def _block(element: ET.Element, tag: str) -> list[str]:
    if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
        return [f"{'#' * int(tag[1])} {_collapse(_inline(element))}"]
    if tag == "p":
        return [_collapse(_inline(element))]
    if tag in {"ul", "ol", "ac:task-list"}:
        return ["\n".join(_list_lines(element, tag, 0))]
    if tag == "table":
        return ["\n".join(_table_rows(element))]
    if tag == "pre":
        return [_fenced("".join(element.itertext()), "")]
    if tag == "hr":
        return []
    if tag == "ac:structured-macro":
        return _macro(element)
    if tag == "blockquote":
        return ["> " + b.replace("\n", "\n> ") for b in _blocks(element)]
    return _blocks(element)


def _macro(element: ET.Element) -> list[str]:
    name = (element.get(f"{{{_AC}}}name") or "").lower()
    params = {p.get(f"{{{_AC}}}name", ""): "".join(p.itertext()).strip()
              for p in element if _tag(p) == "ac:parameter"}  # fmt: skip
    if name in _DROPPED_MACROS:
        return []
    if name in {"code", "noformat"}:
        body = next((c for c in element if _tag(c) == "ac:plain-text-body"), None)
        text = "" if body is None else "".join(body.itertext())
        return [_fenced(text, params.get("language", ""))] if text.strip() else []
    rich = next((c for c in element if _tag(c) == "ac:rich-text-body"), None)
    inner = [] if rich is None else _blocks(rich)
    if name in _PANELS:
        label = " ".join(filter(None, [_PANELS[name], params.get("title", "")]))
        if label and inner:
            inner[0] = f"{label}: {inner[0]}"
        elif label:
            inner = [label]
    return inner


def _list_lines(element: ET.Element, tag: str, depth: int) -> list[str]:
    lines: list[str] = []
    items = [c for c in element if _tag(c) in {"li", "ac:task"}]
    for number, item in enumerate(items, start=1):
        if _tag(item) == "ac:task":
            done = any(_tag(c) == "ac:task-status" and "".join(c.itertext()).strip() ==
                       "complete" for c in item)  # fmt: skip
            body = next((c for c in item if _tag(c) == "ac:task-body"), item)
            lines.append(f"{'  ' * depth}- [{'x' if done else ' '}] {_collapse(_inline(body))}")
            continue
        marker = f"{number}." if tag == "ol" else "-"
        nested = [c for c in item if _tag(c) in {"ul", "ol"}]
        lines.append(f"{'  ' * depth}{marker} {_item_text(item, nested)}".rstrip())
        for sub in nested:
            lines.extend(_list_lines(sub, _tag(sub), depth + 1))
    return lines


def _item_text(item: ET.Element, nested: list[ET.Element]) -> str:
    """A list item's own text on one line (its paragraphs joined), its nested lists aside."""
    own = ET.Element("li")
    own.text = item.text
    for child in item:
        if child in nested:  # the text after a nested list stays, the list goes on its lines
            ET.SubElement(own, "br").tail = child.tail
        else:
            own.append(child)
    return " ".join(_blocks(own))


def _table_rows(table: ET.Element) -> list[str]:
    rows = [r for r in table.iter() if _tag(r) == "tr"]
    return [" | ".join(" ".join(_blocks(c)) for c in row if _tag(c) in {"td", "th"})
            for row in rows]  # fmt: skip


def _inline(element: ET.Element) -> str:
    """An element's text as one line: links as their text, dropped things as nothing."""
    tag = _tag(element)
    if tag in _DROPPED or (
        tag == "ac:structured-macro" and _macro_name(element) in _DROPPED_MACROS
    ):
        return ""
    if tag == "br":
        return " "
    if tag == "ac:link":
        return _link_text(element)
    parts = [element.text or ""]
    for child in element:
        parts.append(_inline(child))
        parts.append(child.tail or "")
    text = "".join(parts)
    return f"`{text.strip()}`" if tag == "code" and text.strip() else text


def _link_text(link: ET.Element) -> str:
    for child in link:
        if _tag(child) in {"ac:link-body", "ac:plain-text-link-body"}:
            return "".join(child.itertext())
    for child in link:
        if _tag(child) == "ri:page":
            return child.get(f"{{{_RI}}}content-title", "")
    return ""


def _macro_name(element: ET.Element) -> str:
    return (element.get(f"{{{_AC}}}name") or "").lower()


def _fenced(text: str, language: str) -> str:
    return f"```{language}\n{text.strip(chr(10))}\n```"


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text.replace("\xa0", " ")).strip()
