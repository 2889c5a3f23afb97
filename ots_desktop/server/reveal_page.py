"""The page a one-time link opens in a browser.

It never consumes a secret: it is static, and the share is only claimed by an explicit
POST to the reveal endpoint. The headers forbid scripts from other origins, framing,
caching and referrers, so the link's fragment cannot leak through the page.
"""

from __future__ import annotations

from aiohttp import web

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="robots" content="noindex, nofollow">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>One-time secret</title></head>
<body>
<main>
<h1>Someone shared a one-time secret with you</h1>
<p>Opening this page does not use up the secret.</p>
<p>Open it with ots-desktop, or on the command line with <code>ots receive '&lt;the whole link&gt;'</code>.
The secret can be opened only once, and only by whoever holds the whole link, including the part after
the <code>#</code>.</p>
</main>
</body>
</html>
"""


def reveal_page_response() -> web.Response:
    """The page, with its security headers."""
    return web.Response(text=_PAGE, content_type="text/html", headers=SECURITY_HEADERS)
