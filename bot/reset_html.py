"""The reset page's HTML: a plain form that works on a phone without script (one column, the
stylesheet beside it), and the one-paragraph pages around it. Every sentence comes from the
catalogue and every value is escaped."""

from __future__ import annotations

from html import escape
from pathlib import Path

from bot import texts

STYLESHEET_FILE = Path(__file__).with_name("reset_static") / "reset.css"
STYLESHEET = "/reset/page.css"
MAX_PASSWORD = 256  # characters; more is no password anyone types


def document(title: str, body: str) -> str:
    """A whole page: `body` is HTML made here (values escaped)."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="stylesheet" href="{STYLESHEET}">\n</head>\n'
        f"<body>\n<main>\n<h1>{escape(title)}</h1>\n{body}</main>\n</body>\n</html>\n"
    )


def paragraph(text: str, kind: str | None = None) -> str:
    role = ' role="alert"' if kind == "problem" else ""
    css = f' class="{kind}"' if kind else ""
    return f"<p{css}{role}>{escape(text)}</p>\n"


def _password_field(name: str, label: str, extra: str = "") -> str:
    return (
        f'<label for="{name}">{escape(label)}</label>\n'
        f'<input id="{name}" name="{name}" type="password" autocomplete="new-password" '
        f'required maxlength="{MAX_PASSWORD}"{extra}>\n'
    )


def form_page(username: str, nonce: str, problem: str | None = None) -> str:
    """The form: the new password twice, the rules stated, what was wrong last time."""
    body = paragraph(texts.say("reset.page.intro", username=username))
    if problem:
        body += paragraph(problem, "problem")
    body += (
        '<form method="post">\n'
        f'<input type="hidden" name="nonce" value="{escape(nonce)}">\n'
        # for password managers: whose password this is
        f'<input type="text" name="username" value="{escape(username)}" '
        'autocomplete="username" hidden readonly>\n'
        + _password_field("password", texts.say("reset.page.new_label"),
                          ' aria-describedby="rules" autofocus')
        + _password_field("again", texts.say("reset.page.again_label"))
        + f'<p id="rules" class="rules">{escape(texts.say("reset.page.rules"))}</p>\n'
        f'<button type="submit">{escape(texts.say("reset.page.submit"))}</button>\n'
        "</form>\n"
    )  # fmt: skip
    return document(texts.say("reset.page.title"), body)
