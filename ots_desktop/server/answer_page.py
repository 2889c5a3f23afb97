"""The page a secret request link opens in a browser: the answerer types a secret or picks a file,
and ``static/answer.js`` encrypts it to the requester's public key before anything is uploaded.

Opening the page changes nothing on the relay (GET and HEAD never do): only pressing Send
posts the answer. The script reads the public key and the proof key from the link's fragment
and removes them from the address bar and the history at once. The page has the reveal
page's security headers: scripts, styles and connections to this origin only, no framing,
no caching, no referrer.
"""

from __future__ import annotations

from aiohttp import web

from ots_desktop.server.reveal_page import SECURITY_HEADERS

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Someone asks you for a secret</title>
<link rel="stylesheet" href="../static/reveal.css">
<script src="../static/page_tools.js" defer></script>
<script src="../static/answer.js" defer></script>
</head>
<body data-state="loading">
<main>
<h1>Someone asks you for a secret</h1>
<div id="intro">
<p>What you send here is encrypted in this browser, to a key only the person who asked holds. The relay
and anyone else see only ciphertext. The request takes one answer.</p>
<noscript><p>This page needs JavaScript to encrypt your answer in your browser. Without it, answer with
ots on the command line: <code>ots answer '&lt;the whole link&gt;'</code>.</p></noscript>
</div>
<dl id="details" hidden>
<dt>What is asked for</dt><dd id="label"></dd>
<dt>Expires</dt><dd id="expires"></dd>
</dl>
<form id="answer-form" hidden novalidate>
<div class="field">
<label for="secret">The secret</label>
<textarea id="secret" name="secret" rows="5" autocomplete="off" spellcheck="false"
 aria-describedby="answer-help"></textarea>
</div>
<div class="field">
<label for="file">Or a file</label>
<input type="file" id="file" name="file" aria-describedby="answer-help">
</div>
<p id="answer-help">Type the secret or choose one file. Nothing leaves this browser unencrypted.</p>
<p class="error" id="answer-error" role="alert" hidden></p>
<button type="submit" id="send" disabled>Send</button>
</form>
<section id="outcome" hidden>
<h2 id="outcome-title" tabindex="-1"></h2>
<p id="outcome-text"></p>
</section>
<p id="status" class="status" role="status" aria-live="polite" aria-atomic="true">Loading\u2026</p>
</main>
</body>
</html>
"""


def answer_page_response() -> web.Response:
    """The page, with the reveal page's security headers."""
    return web.Response(text=_PAGE, content_type="text/html", headers=SECURITY_HEADERS)
