/* The answer page of an ots secret request: seals the answer to the request's X25519 public key
 * with WebCrypto alone (X25519, HKDF, AES-256-GCM), as ots_desktop/core/request_box.py specifies,
 * then posts it once. No third-party code, no inline script. The requester's label comes from the
 * relay sealed (label_box); the page opens it with a key from the fragment and shows it as text only.
 *
 * The public key and the proof key are the link's fragment (after '#'): browsers never send it,
 * and this script removes it from the address bar and the history as soon as it has read it.
 * Opening the page changes nothing on the relay: only Send posts the answer.
 *
 * The sealing functions are exposed as globalThis.OtsAnswer so that tests can check them.
 */
"use strict";

(function () {
  const tools = window.OtsPageTools;
  const { concat, b64uDecode, b64uEncode, formatExpiry } = tools;
  // ------------------------------------------------------------------ formats (request v1, envelope v1)

  const ENVELOPE_MAGIC = [0x4f, 0x54, 0x53, 0x45];
  const ANSWER_MAGIC = [0x4f, 0x54, 0x53, 0x41];
  const TAG_LEN = 16;
  const ID_LEN = 16;
  const KEY_LEN = 32;
  const CHUNK_SIZE = 65536;
  const META_BUCKET = 512;
  const MAX_META_LEN = 64 * 1024;
  const KIND_DATA = 0x00;
  const KIND_LAST = 0x01;
  const KIND_META = 0x02;
  const ENC_KEY_INFO = "ots-desktop/v1 envelope key";
  const REQUEST_PROOF_INFO = "ots-desktop/v1 request proof";
  const ANSWER_KEY_INFO = "ots-desktop/v1 answer key";
  const LABEL_KEY_INFO = "ots-desktop/v1 request label";
  const LABEL_NONCE_LEN = 12;
  const MAX_LABEL_BOX_LEN = 1200;
  const LABEL_UNREADABLE = "(the description could not be read)";

  const encoder = new TextEncoder();

  function u32(value) {
    return new Uint8Array([(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
  }

  function random(size) {
    return crypto.getRandomValues(new Uint8Array(size));
  }

  async function hkdf(ikm, salt, info) {
    const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
    return new Uint8Array(await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info: encoder.encode(info) }, key, 256));
  }

  /** Canonical metadata JSON (sorted keys, no whitespace), padded with spaces to its bucket. */
  function paddedMeta(meta) {
    const sorted = {};
    for (const name of Object.keys(meta).sort()) sorted[name] = meta[name];
    const raw = encoder.encode(JSON.stringify(sorted));
    if (raw.length > MAX_META_LEN) throw new RangeError("the file name is too long");
    let size = META_BUCKET;
    while (size < raw.length) size *= 2;
    const out = new Uint8Array(Math.min(size, MAX_META_LEN)).fill(0x20);
    out.set(raw);
    return out;
  }

  /** A v1 envelope of `plain` under `fragmentKey` (32 bytes), bound to the 16-byte `shareId`. */
  async function sealEnvelope(plain, shareId, fragmentKey, meta) {
    const salt = random(16);
    const prefix = random(8);
    const metaRaw = paddedMeta(meta);
    const header = concat(new Uint8Array(ENVELOPE_MAGIC), new Uint8Array([1, 0, 0, 0]), salt, u32(0),
      u32(CHUNK_SIZE), prefix, u32(metaRaw.length + TAG_LEN));
    const encBits = await hkdf(fragmentKey, salt, ENC_KEY_INFO);
    const encKey = await crypto.subtle.importKey("raw", encBits, { name: "AES-GCM" }, false, ["encrypt"]);
    encBits.fill(0);
    const seal = async (counter, kind, chunk) => new Uint8Array(await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: concat(prefix, u32(counter)), additionalData: concat(header, shareId, new Uint8Array([kind])),
        tagLength: 128 }, encKey, chunk));
    const parts = [header, await seal(0, KIND_META, metaRaw)];
    const count = Math.max(1, Math.ceil(plain.length / CHUNK_SIZE));
    for (let i = 0; i < count; i++) {
      const chunk = plain.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
      parts.push(await seal(i + 1, i === count - 1 ? KIND_LAST : KIND_DATA, chunk));
    }
    return concat(...parts);
  }

  /** The answer: header (magic, version, SHA-256 of the request's key, ephemeral key), then the envelope. */
  async function sealAnswer(plain, requestId, publicKey, meta) {
    const subtle = crypto.subtle;
    const theirs = await subtle.importKey("raw", publicKey, { name: "X25519" }, false, []);
    const ephemeral = await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
    const ours = new Uint8Array(await subtle.exportKey("raw", ephemeral.publicKey));
    const shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: theirs }, ephemeral.privateKey, 256));
    if (shared.every((b) => b === 0)) throw new RangeError("the request's public key is invalid");
    const answerKey = await hkdf(shared, concat(publicKey, ours), ANSWER_KEY_INFO);
    shared.fill(0);
    const keyHash = new Uint8Array(await subtle.digest("SHA-256", publicKey));
    const envelope = await sealEnvelope(plain, requestId, answerKey, meta);
    answerKey.fill(0);
    return concat(new Uint8Array(ANSWER_MAGIC), new Uint8Array([1, 0, 0, 0]), keyHash, ours, envelope);
  }

  /** The request proof: HKDF of the whole fragment, salted with the request id. */
  function requestProof(fragment, requestId) {
    return hkdf(fragment, requestId, REQUEST_PROOF_INFO);
  }

  /** The requester's label from its sealed box ("" for none), or LABEL_UNREADABLE if it does not open. */
  async function openLabel(fragment, requestId, labelBox) {
    if (!labelBox) return "";
    try {
      if (labelBox.length > MAX_LABEL_BOX_LEN) throw new RangeError("too long");
      const raw = b64uDecode(labelBox);
      if (raw.length < 1 + LABEL_NONCE_LEN + TAG_LEN || raw[0] !== 1) throw new RangeError("not a v1 label box");
      const bits = await hkdf(fragment, requestId, LABEL_KEY_INFO);
      const key = await crypto.subtle.importKey("raw", bits, { name: "AES-GCM" }, false, ["decrypt"]);
      bits.fill(0);
      const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: raw.subarray(1, 1 + LABEL_NONCE_LEN),
        additionalData: requestId, tagLength: 128 }, key, raw.subarray(1 + LABEL_NONCE_LEN));
      const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(plain);
      // One line of printable text, as the requester's side checks it.
      if (/[\p{C}\p{Zl}\p{Zp}]/u.test(text) || /(?! )\p{Zs}/u.test(text)) throw new RangeError("not printable");
      return text;
    } catch (e) {
      return LABEL_UNREADABLE;
    }
  }

  globalThis.OtsAnswer = { sealAnswer, requestProof, openLabel, b64uEncode, b64uDecode };

  // ------------------------------------------------------------------ the page

  const $ = (id) => document.getElementById(id);
  const page = {};
  const GONE = {
    opened: ["Already answered", "This request was answered, and the person who asked has collected the answer."],
    expired: ["Expired", "This request expired. Ask the person who sent it for a new one."],
    revoked: ["Withdrawn", "The person who asked withdrew this request. Nothing can be sent to it."],
  };

  function setStatus(text) {
    $("status").textContent = text;
  }

  function finish(state, title, text) {
    document.body.dataset.state = state;
    $("intro").hidden = true;
    $("details").hidden = true;
    $("answer-form").hidden = true;
    $("outcome").hidden = false;
    $("outcome-title").textContent = title;
    $("outcome-text").textContent = text;
    setStatus(title + ". " + text);
    $("status").classList.add("visually-hidden");
    $("outcome-title").focus();
  }

  function damaged() {
    finish("damaged", "This link is damaged",
      "Part of the link is missing or was changed, so nothing can be sent with it. " +
      "Copy the whole link again, including everything after the #.");
  }

  function alreadyAnswered() {
    finish("answered", "Already answered",
      "This request takes one answer, and it already has one. Yours was not sent. " +
      "If you did not answer it yourself, tell the person who asked.");
  }

  function api(method, path, body) {
    return tools.api(page.apiBase, method, path, body);
  }

  /** Final states for 404, 409, 410, 403 and a refused link; false for a failure worth another try. */
  function handleFailure(reply) {
    if (reply.status === 404) {
      finish("not-found", "Not found", "There is no such request: the link is wrong, or it ended long ago.");
    } else if (reply.status === 409 && reply.data.code === "already_answered") {
      alreadyAnswered();
    } else if (reply.status === 410) {
      const [title, text] = GONE[reply.data.state] || ["Ended", "This request has ended."];
      finish(reply.data.state || "ended", title, text);
    } else if (reply.status === 403) {
      finish("forbidden-network", "Not allowed from this network",
        "The person who asked accepts answers only from certain networks or countries. Nothing was sent.");
    } else if (reply.status === 401 || (reply.status === 400 && reply.data.code !== "bad_request")) {
      damaged();
    } else if (reply.status === 413) {
      showError("This is larger than the relay accepts. Send a smaller file.");
      return false;
    } else if (reply.status === 429) {
      setStatus("Too many attempts from your address. Wait " + (reply.retryAfter || "a few") + " seconds and try again.");
      return false;
    } else {
      setStatus("The relay answered with an error (" + reply.status + "). Try again later.");
      return false;
    }
    return true;
  }

  function showError(text) {
    const box = $("answer-error");
    box.textContent = text;
    box.hidden = false;
    $("send").disabled = false;
  }

  async function lookUp() {
    let reply;
    try {
      reply = await api("GET", "api/v1/requests/" + page.id);
    } catch (e) {
      finish("offline", "The relay cannot be reached", "Check your connection and reload the page.");
      return;
    }
    if (reply.status !== 200) {
      if (!handleFailure(reply)) finish("error", "Something went wrong", $("status").textContent);
      return;
    }
    page.maxSize = reply.data.max_size;
    document.body.dataset.state = "ready";
    const label = await openLabel(page.fragment, page.idBytes, reply.data.label_box);
    $("label").textContent = label || "(no description given)";
    $("expires").textContent = formatExpiry(reply.data.expires_at);
    $("details").hidden = false;
    $("answer-form").hidden = false;
    $("send").disabled = false;
    setStatus("Type the secret or choose a file, then press Send. The request takes one answer.");
    $("secret").focus();
  }

  async function readAnswer() {
    const text = $("secret").value;
    const file = $("file").files[0];
    if (file && text) return { error: "Send either the text or the file, not both: clear one of them." };
    if (file) {
      const plain = new Uint8Array(await file.arrayBuffer());
      const meta = { type: "file", name: file.name || "secret.bin", size: plain.length };
      if (file.type) meta.mime = file.type;
      return { plain, meta };
    }
    if (!text) return { error: "Type the secret or choose a file first." };
    return { plain: encoder.encode(text), meta: { type: "text" } };
  }

  async function send(event) {
    event.preventDefault();
    $("send").disabled = true;
    $("answer-error").hidden = true;
    const answer = await readAnswer();
    if (answer.error) {
      showError(answer.error);
      return;
    }
    if (page.maxSize && answer.plain.length > page.maxSize - 1024) {
      answer.plain.fill(0);
      showError("This is larger than the relay accepts. Send a smaller file.");
      return;
    }
    setStatus("Encrypting\u2026");
    let body;
    try {
      const sealed = await sealAnswer(answer.plain, page.idBytes, page.publicKey, answer.meta);
      const proof = await requestProof(page.fragment, page.idBytes);
      body = { request_proof: b64uEncode(proof), answer: b64uEncode(sealed) };
    } catch (e) {
      showError("This browser could not encrypt the answer. Nothing was sent.");
      return;
    } finally {
      answer.plain.fill(0);
    }
    setStatus("Sending\u2026");
    let reply;
    try {
      reply = await api("POST", "api/v1/requests/" + page.id + "/answer", body);
    } catch (e) {
      showError("The relay cannot be reached. Check your connection and press Send again.");
      return;
    }
    if (reply.status === 201) {
      $("secret").value = "";
      $("file").value = "";
      finish("sent", "Sent", "Sent: only the requester can open it. You can close this page.");
      return;
    }
    if (!handleFailure(reply)) $("send").disabled = false;
  }

  async function x25519Works() {
    try {
      await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
      return true;
    } catch (e) {
      return false;
    }
  }

  async function start() {
    if (!$("answer-form")) return;  // loaded outside the answer page (tests)
    const fragment = location.hash.slice(1);
    history.replaceState(null, "", location.pathname + location.search);
    const parts = location.pathname.split("/");
    page.id = parts[parts.length - 1];
    page.apiBase = new URL("../", location.href);
    $("answer-form").addEventListener("submit", send);
    try {
      page.idBytes = b64uDecode(page.id);
      page.fragment = b64uDecode(fragment);
      if (page.idBytes.length !== ID_LEN || page.fragment.length !== 2 * KEY_LEN) throw new TypeError("length");
      page.publicKey = page.fragment.slice(0, KEY_LEN);
    } catch (e) {
      damaged();
      return;
    }
    if (!globalThis.crypto || !crypto.subtle || !(await x25519Works())) {
      finish("unsupported", "This browser cannot encrypt the answer",
        "It needs WebCrypto with X25519 (current Chrome, Edge, Firefox and Safari have it, on https pages). " +
        "Use another browser, or answer on the command line with: ots answer '<the whole link>'.");
      return;
    }
    lookUp();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
