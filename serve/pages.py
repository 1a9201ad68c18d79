"""The server's HTML: the sign-in form, the review page that hosts the terminal, and the
notices. Every value put into a page is escaped; the pages load nothing from other hosts."""

from __future__ import annotations

from html import escape

_STYLE = """
body { margin: 0; background: #0c181f; color: #e6edf3;
       font-family: "Roboto Mono", Menlo, Consolas, monospace; }
main.notice { max-width: 40rem; margin: 12vh auto; padding: 2rem; background: #12232d; }
main.notice h1 { font-size: 1.3rem; margin-top: 0; }
label { display: block; margin: 1rem 0 .3rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; }
button { margin-top: 1rem; padding: .6rem 1.6rem; font: inherit; background: #5e0ba7;
         color: #fff; border: none; cursor: pointer; }
.error { color: #ff8a80; }
a { color: #8ab4f8; }
"""


def _document(title: str, body: str, *, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>{head}</head>"
        f"<body>{body}</body></html>\n"
    )


def sign_in_page(*, tokens: bool, error: str | None = None) -> str:
    """The form: a token when ``[serve.reviewers]`` is set (the token says who you are),
    else the name you sign your decisions with."""
    if tokens:
        field = (
            '<label for="token">Your review token</label>'
            '<input id="token" name="token" type="password" autocomplete="current-password" '
            "required autofocus>"
        )
        lead = "Sign in with the token your team lead gave you."
    else:
        field = (
            '<label for="name">Your name (signs every decision you make)</label>'
            '<input id="name" name="name" type="text" autocomplete="name" required autofocus>'
        )
        lead = "This server checks no tokens: the name you type signs your decisions."
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _document(
        "Draftgate review · sign in",
        '<main class="notice"><h1>Draftgate review</h1>'
        f"<p>{lead}</p>{problem}"
        f'<form method="post" action="login">{field}'
        '<button type="submit" id="sign-in">Sign in</button></form></main>',
    )


def busy_page(reviewer: str, retry_s: int) -> str:
    """The second tab: the name is reviewing elsewhere. The page asks again by itself, so a
    reload (whose old app is still closing) gets in once the name is free."""
    return _document(
        "Draftgate review · already reviewing",
        f'<main class="notice" id="busy"><h1>{escape(reviewer)} is already reviewing</h1>'
        "<p>This name has the review open in another tab or window (or it is still closing). "
        "Review in that one, or quit it (q) or close it; this page tries again every "
        f"{retry_s} seconds.</p>"
        '<form method="post" action="logout"><button type="submit">Sign out</button></form>'
        "</main>",
        head=f'<meta http-equiv="refresh" content="{retry_s}">',
    )


def review_page(reviewer: str, socket_path: str, static_url: str) -> str:
    """The terminal page textual-serve's script drives. The WebSocket address is built from
    the page's own address, so it is wss:// behind a TLS proxy without further settings."""
    static = escape(static_url)
    head = (
        f'<link rel="stylesheet" href="{static}css/xterm.css">'
        "<style>"
        '@font-face { font-family: "Roboto Mono"; '
        f'src: url("{static}fonts/RobotoMono-VariableFont_wght.ttf"); }}'
        ".ended { display: none; }"
        "body.-closed .ended { display: flex; position: fixed; inset: 0; z-index: 10; "
        "align-items: center; justify-content: center; background: rgba(12,24,31,.92); }"
        "</style>"
        f'<script src="{static}js/textual.js"></script>'
    )
    name = escape(reviewer)
    body = (
        '<div class="ended" id="ended"><main class="notice"><h1>The review app ended</h1>'
        f"<p>{name}: your decisions are saved. It ends when you press q, when the server "
        "stops, or when this name is reviewing in another tab.</p>"
        '<p><a href="./">Review again</a></p>'
        '<form method="post" action="logout"><button type="submit">Sign out</button></form>'
        "</main></div>"
        f'<div id="terminal" class="textual-terminal" data-font-size="16" '
        f'data-reviewer="{name}"></div>'
        "<script>"
        'const terminal = document.getElementById("terminal");'
        'const scheme = location.protocol === "https:" ? "wss:" : "ws:";'
        "terminal.dataset.sessionWebsocketUrl = "
        f"new URL({_js_string(socket_path)}, location.href).href.replace(/^https?:/, scheme);"
        "</script>"
    )
    return _document(f"Draftgate review · {reviewer}", body, head=head)


def _js_string(value: str) -> str:
    """A JavaScript string literal safe inside a <script> element."""
    out = ['"']
    for char in value:
        if char.isalnum() or char in "/-_.~":
            out.append(char)
        else:
            out.append(f"\\u{ord(char):04x}")
    out.append('"')
    return "".join(out)


def ended_page(text: str) -> str:
    return _document(
        "Draftgate review",
        f'<main class="notice"><h1>Draftgate review</h1><p>{escape(text)}</p>'
        '<p><a href="./">Back</a></p></main>',
    )
