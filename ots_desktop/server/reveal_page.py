"""The page a one-time link opens in a browser, and the script and style sheet it loads.

The page never consumes a secret: it is static, and the share is only claimed when the
person presses Reveal (a POST to the reveal endpoint made by ``static/reveal.js``). The
script reads the key from the link's fragment, removes it from the address bar and the
history, and opens the envelope with WebCrypto alone. The headers allow scripts, styles
and connections to this origin only (no inline script, nothing from elsewhere) and forbid
framing, caching and referrers, so the fragment cannot leak through the page.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from ots_desktop.server.link_policy import ApiError

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}

# name -> content type; only these files are served.
STATIC_FILES = {"page_tools.js": "text/javascript", "reveal.js": "text/javascript", "reveal.css": "text/css",
                "answer.js": "text/javascript"}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>One-time secret</title>
<link rel="stylesheet" href="../static/reveal.css">
<script src="../static/page_tools.js" defer></script>
<script src="../static/reveal.js" defer></script>
</head>
<body data-state="loading">
<main>
<h1>Someone shared a one-time secret with you</h1>
<div id="intro">
<p>Opening this page does not use up the secret: it is revealed only when you press Reveal.</p>
<noscript><p>This page needs JavaScript to decrypt the secret in your browser. Without it, open the link
with ots-desktop, or on the command line with <code>ots receive '&lt;the whole link&gt;'</code>.</p></noscript>
</div>
<dl id="details" hidden>
<dt>Expires</dt><dd id="expires"></dd>
<dt>Views left</dt><dd id="views"></dd>
<dt>Passphrase needed</dt><dd id="needs-passphrase"></dd>
</dl>
<form id="reveal-form" hidden novalidate>
<div class="field" id="passphrase-row" hidden>
<label for="passphrase">Passphrase</label>
<input type="password" id="passphrase" name="passphrase" autocomplete="off" spellcheck="false"
 aria-describedby="passphrase-error">
<p class="error" id="passphrase-error" hidden></p>
</div>
<button type="submit" id="reveal" disabled>Reveal</button>
</form>
<section id="text-box" aria-labelledby="text-title" hidden>
<h2 id="text-title">The secret</h2>
<pre class="secret masked" id="secret-text" aria-label="The secret"></pre>
<div class="actions">
<button type="button" id="show" class="secondary" aria-pressed="false" aria-controls="secret-text">Show</button>
<button type="button" id="copy">Copy</button>
</div>
</section>
<section id="file-box" aria-labelledby="file-title" hidden>
<h2 id="file-title">A file</h2>
<dl><dt>Name</dt><dd id="file-name"></dd><dt>Size</dt><dd id="file-size"></dd></dl>
<p id="file-note" hidden></p>
<button type="button" id="save">Save file</button>
</section>
<section id="outcome" hidden>
<h2 id="outcome-title" tabindex="-1"></h2>
<p id="outcome-text"></p>
</section>
<p id="status" class="status" role="status" aria-live="polite" aria-atomic="true">Loading\u2026</p>
</main>
</body>
</html>
"""

_STATIC: dict[str, bytes] = {}


def _asset(name: str) -> bytes:
    if name not in _STATIC:
        _STATIC[name] = resources.files("ots_desktop.server").joinpath("static", name).read_bytes()
    return _STATIC[name]


def reveal_page_response() -> web.Response:
    """The page, with its security headers."""
    return web.Response(text=_PAGE, content_type="text/html", headers=SECURITY_HEADERS)


async def static_asset(request: web.Request) -> web.Response:
    """GET /static/{name}: the page's own script and style sheet (nothing else is served)."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise ApiError(404, "not_found", "no such file")
    return web.Response(body=_asset(name), content_type=STATIC_FILES[name], charset="utf-8",
                        headers=SECURITY_HEADERS)
