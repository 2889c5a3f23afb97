// Helpers the reveal page and the answer page share: bytes, strict base64url, expiry text and the
// JSON API call. Loaded before either page's own script (both deferred, so in order); it defines one
// frozen object and touches nothing else.
"use strict";

window.OtsPageTools = (function () {
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  function b64uEncode(bytes) {
    let raw = "";
    for (let i = 0; i < bytes.length; i += 0x8000) raw += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /** Strict unpadded base64url (up to two '=' tolerated), as ots_desktop.core.ids.b64u_decode. */
  function b64uDecode(text) {
    if (typeof text !== "string") throw new TypeError("base64url input must be text");
    const body = text.replace(/={1,2}$/, "");
    if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1) throw new TypeError("not valid base64url");
    const std = body.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (body.length % 4)) % 4);
    const raw = atob(std);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    if (b64uEncode(out) !== body) throw new TypeError("not valid base64url: stray bits");
    return out;
  }

  function formatExpiry(iso) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return "unknown";
    const minutes = Math.max(0, Math.round((when.getTime() - Date.now()) / 60000));
    const inText = minutes < 120 ? minutes + " minutes" : Math.round(minutes / 60) + " hours";
    return when.toLocaleString() + " (in about " + inText + ")";
  }

  /** One JSON call to the relay's API under ``apiBase``: {status, data, retryAfter}; never credentials. */
  async function api(apiBase, method, path, body) {
    const init = { method, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(new URL(path, apiBase), init);
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = {};
    }
    return { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
  }

  return Object.freeze({ concat, b64uEncode, b64uDecode, formatExpiry, api });
})();
