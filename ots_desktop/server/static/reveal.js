/* The reveal page of an ots one-time link: opens the envelope of ots_desktop/core/envelope.py
 * with WebCrypto alone (PBKDF2, HKDF, AES-256-GCM). No third-party code, no inline script.
 *
 * The key is the link's fragment (after '#'): browsers never send it, and this script removes
 * it from the address bar and the history as soon as it has read it. Opening the page never
 * consumes the secret: only the Reveal button asks the relay for the envelope.
 *
 * The envelope functions are exposed as globalThis.OtsEnvelope so that tests can run the
 * shared test vectors through exactly this code.
 */
"use strict";

(function () {
  const tools = window.OtsPageTools;
  const { concat, b64uDecode, b64uEncode, formatExpiry } = tools;
  // ------------------------------------------------------------------ envelope format v1

  const MAGIC = [0x4f, 0x54, 0x53, 0x45];
  const VERSION = 1;
  const HEADER_LEN = 44;
  const TAG_LEN = 16;
  const SHARE_ID_LEN = 16;
  const FRAGMENT_KEY_LEN = 32;
  const FLAG_PASSPHRASE = 0x01;
  const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
  const MAX_META_LEN = 64 * 1024;
  const MAX_CHUNKS = 4294967295;
  const MIN_ITERATIONS = 600000;
  const MAX_ITERATIONS = 10000000;
  const KIND_DATA = 0x00;
  const KIND_LAST = 0x01;
  const KIND_META = 0x02;
  const ENC_KEY_INFO = "ots-desktop/v1 envelope key";
  const AUTH_TOKEN_INFO = "ots-desktop/v1 auth token";
  const LINK_PROOF_INFO = "ots-desktop/v1 link proof";
  const META_FIELDS = ["type", "name", "size", "mime"];
  const STREAM_TYPE = "application/octet-stream";
  // From this size the page says that a browser without a file picker keeps the whole file in memory.
  const MEMORY_NOTE_FROM = 64 * 1024 * 1024;

  const encoder = new TextEncoder();

  /** A refused envelope. `reason` names the failure as tests/vectors/envelope-v1.json does. */
  class EnvelopeError extends Error {
    constructor(reason, message) {
      super(message);
      this.name = "EnvelopeError";
      this.reason = reason;
    }
  }

  function u32(bytes, at) {
    return ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
  }

  /** Parse and check the 44-byte header; refuse anything out of range before any key work. */
  function readHeader(data) {
    const head = data.subarray(0, HEADER_LEN);
    for (let i = 0; i < Math.min(4, head.length); i++) {
      if (head[i] !== MAGIC[i]) throw new EnvelopeError("not-envelope", "not an ots envelope");
    }
    if (head.length === 0) throw new EnvelopeError("not-envelope", "not an ots envelope");
    if (head.length > 4 && head[4] !== VERSION) {
      throw new EnvelopeError("unsupported-version", "unsupported envelope version " + head[4]);
    }
    if (head.length < HEADER_LEN) throw new EnvelopeError("cut", "the envelope is cut short");
    const flags = head[5];
    const reserved = (head[6] << 8) | head[7];
    const iterations = u32(head, 24);
    const chunkSize = u32(head, 28);
    const metaLen = u32(head, 40);
    const needsPassphrase = (flags & FLAG_PASSPHRASE) !== 0;
    const bad = () => new EnvelopeError("damaged-header", "the envelope is damaged: its header is invalid");
    if ((flags & ~FLAG_PASSPHRASE) !== 0 || reserved !== 0 || (iterations !== 0 && !needsPassphrase)) throw bad();
    if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE || metaLen < TAG_LEN || metaLen > MAX_META_LEN + TAG_LEN) throw bad();
    if (needsPassphrase && (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS)) throw bad();
    return {
      raw: head.slice(), needsPassphrase, salt: head.slice(8, 24), iterations, chunkSize,
      noncePrefix: head.slice(32, 40), metaLen,
    };
  }

  /** Data chunk count and plaintext length for `bodyLen` bytes after the meta chunk. */
  function layout(bodyLen, chunkSize) {
    if (bodyLen === TAG_LEN) return { count: 1, total: 0 };
    const full = Math.floor(bodyLen / (chunkSize + TAG_LEN));
    const rest = bodyLen % (chunkSize + TAG_LEN);
    const count = full + (rest ? 1 : 0);
    if (bodyLen < TAG_LEN || (rest > 0 && rest <= TAG_LEN) || count > MAX_CHUNKS) {
      throw new EnvelopeError("cut", "the envelope is damaged: it is cut short or its chunk boundaries are wrong");
    }
    return { count, total: bodyLen - count * TAG_LEN };
  }

  /** The envelope key (a non-extractable AES-GCM CryptoKey) and the relay auth token (32 bytes). */
  async function deriveKeys(fragmentKey, salt, passphrase, iterations) {
    if (!(fragmentKey instanceof Uint8Array) || fragmentKey.length !== FRAGMENT_KEY_LEN) {
      throw new TypeError("the fragment key must be 32 bytes");
    }
    const subtle = crypto.subtle;
    let ikm = fragmentKey.slice();
    if (passphrase !== null && passphrase !== undefined) {
      const pwBytes = encoder.encode(passphrase.normalize("NFC"));
      const pwKey = await subtle.importKey("raw", pwBytes, "PBKDF2", false, ["deriveBits"]);
      pwBytes.fill(0);
      const pw = new Uint8Array(await subtle.deriveBits(
        { name: "PBKDF2", hash: "SHA-256", salt, iterations }, pwKey, 256));
      const joined = concat(ikm, pw);
      ikm.fill(0);
      pw.fill(0);
      ikm = joined;
    }
    const ikmKey = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
    ikm.fill(0);
    const hkdf = (info) => subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info: encoder.encode(info) }, ikmKey, 256);
    const encBits = new Uint8Array(await hkdf(ENC_KEY_INFO));
    const encKey = await subtle.importKey("raw", encBits, { name: "AES-GCM" }, false, ["decrypt"]);
    encBits.fill(0);
    const authToken = new Uint8Array(await hkdf(AUTH_TOKEN_INFO));
    return { encKey, authToken };
  }

  /** The link proof (32 bytes): HKDF of the fragment key alone, so the relay counts no attempt without the key. */
  async function deriveLinkProof(fragmentKey, salt) {
    if (!(fragmentKey instanceof Uint8Array) || fragmentKey.length !== FRAGMENT_KEY_LEN) {
      throw new TypeError("the fragment key must be 32 bytes");
    }
    const ikmKey = await crypto.subtle.importKey("raw", fragmentKey, "HKDF", false, ["deriveBits"]);
    return new Uint8Array(await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info: encoder.encode(LINK_PROOF_INFO) }, ikmKey, 256));
  }

  /** The names of the top-level keys of a JSON object text, in order (JSON.parse hides duplicates). */
  function topLevelKeys(text) {
    const keys = [];
    let depth = 0;
    let expectKey = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        let j = i + 1;
        while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
        if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)));
        expectKey = false;
        i = j;
      } else if (c === "{" || c === "[") {
        depth++;
        expectKey = depth === 1 && c === "{";
      } else if (c === "}" || c === "]") {
        depth--;
      } else if (c === "," && depth === 1) {
        expectKey = true;
      }
    }
    return keys;
  }

  /** Whether `name` is an acceptable file name: the rules of the envelope specification. */
  function nameIsSafe(name) {
    return typeof name === "string" && name !== "" && name !== "." && name !== ".." &&
      !/[\/\\]/.test(name) && !/[\p{C}\p{Z}]/u.test(name.replace(/ /g, ""));
  }

  function decodeMeta(raw) {
    const bad = () => new EnvelopeError("bad-meta", "the envelope is damaged: its description of the secret is invalid");
    let text;
    let meta;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
      meta = JSON.parse(text);
    } catch (e) {
      throw bad();
    }
    if (meta === null || typeof meta !== "object" || Array.isArray(meta)) throw bad();
    const keys = topLevelKeys(text);
    if (new Set(keys).size !== keys.length || !keys.every((k) => META_FIELDS.includes(k))) throw bad();
    if (meta.type !== "text" && meta.type !== "file") throw bad();
    if ("name" in meta && !nameIsSafe(meta.name)) throw bad();
    if ("size" in meta && !(typeof meta.size === "number" && Number.isInteger(meta.size) && meta.size >= 0)) throw bad();
    if ("mime" in meta && typeof meta.mime !== "string") throw bad();
    return meta;
  }

  async function openChunk(encKey, header, aadBase, counter, kind, chunk) {
    const nonce = concat(header.noncePrefix, new Uint8Array([counter >>> 24, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255]));
    const aad = concat(aadBase, new Uint8Array([kind]));
    return new Uint8Array(await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, encKey, chunk));
  }

  /**
   * Check and decrypt a whole envelope. `data`, `shareId` (16 bytes) and `fragmentKey` (32 bytes)
   * are Uint8Arrays; `passphrase` is a string or null. Returns {meta, plaintext}; every failure
   * throws an EnvelopeError and no partial plaintext is returned.
   */
  async function openEnvelope(data, shareId, fragmentKey, passphrase) {
    if (!(shareId instanceof Uint8Array) || shareId.length !== SHARE_ID_LEN) throw new TypeError("the share id must be 16 bytes");
    const header = readHeader(data);
    if (data.length < HEADER_LEN + header.metaLen) throw new EnvelopeError("cut", "the envelope is cut short");
    const { count, total } = layout(data.length - HEADER_LEN - header.metaLen, header.chunkSize);
    if (header.needsPassphrase && (passphrase === null || passphrase === undefined)) {
      throw new EnvelopeError("needs-passphrase", "this secret is protected by a passphrase");
    }
    const { encKey, authToken } = await deriveKeys(
      fragmentKey, header.salt, header.needsPassphrase ? passphrase : null, header.iterations);
    authToken.fill(0);
    const aadBase = concat(header.raw, shareId);
    let at = HEADER_LEN;
    let meta;
    try {
      const metaRaw = await openChunk(encKey, header, aadBase, 0, KIND_META, data.subarray(at, at + header.metaLen));
      meta = decodeMeta(metaRaw);
      metaRaw.fill(0);
    } catch (e) {
      if (e instanceof EnvelopeError) throw e;
      throw new EnvelopeError("cannot-decrypt", "the secret cannot be decrypted: the link is damaged or the passphrase is wrong");
    }
    at += header.metaLen;
    const plaintext = new Uint8Array(total);
    let out = 0;
    try {
      for (let counter = 1; counter <= count; counter++) {
        const last = counter === count;
        const size = last ? data.length - at : header.chunkSize + TAG_LEN;
        const chunk = await openChunk(encKey, header, aadBase, counter, last ? KIND_LAST : KIND_DATA, data.subarray(at, at + size));
        plaintext.set(chunk, out);
        chunk.fill(0);
        out += chunk.length;
        at += size;
      }
    } catch (e) {
      plaintext.fill(0);
      throw new EnvelopeError("tampered", "the envelope is damaged: its content was altered, reordered or cut short");
    }
    return { meta, plaintext };
  }

  /** Exact-length reads from a ReadableStream of Uint8Arrays, holding no more than one network piece ahead. */
  class ByteReader {
    constructor(stream) {
      this.reader = stream.getReader();
      this.pieces = [];
      this.have = 0;
      this.done = false;
    }

    /** The next `n` bytes, or fewer at the end of the stream. */
    async read(n) {
      while (this.have < n && !this.done) {
        const { value, done } = await this.reader.read();
        if (done) {
          this.done = true;
        } else if (value.length) {
          this.pieces.push(value);
          this.have += value.length;
        }
      }
      const out = new Uint8Array(Math.min(n, this.have));
      let at = 0;
      while (at < out.length) {
        const head = this.pieces[0];
        const take = Math.min(head.length, out.length - at);
        out.set(head.subarray(0, take), at);
        at += take;
        if (take === head.length) this.pieces.shift();
        else this.pieces[0] = head.subarray(take);
      }
      this.have -= out.length;
      return out;
    }

    cancel() {
      this.reader.cancel().catch(() => {});
    }
  }

  /**
   * Open an envelope of `length` bytes as it arrives from `reader` (a ByteReader). Returns {meta, total,
   * chunks} once the header and the metadata are checked; `chunks` is an async iterator of the decrypted
   * data chunks, one at a time. Like the app, treat what it gives as unconfirmed until it has ended without
   * an error: only the last chunk proves the envelope was not cut short.
   */
  async function openStream(reader, length, shareId, fragmentKey, passphrase) {
    if (!(shareId instanceof Uint8Array) || shareId.length !== SHARE_ID_LEN) throw new TypeError("the share id must be 16 bytes");
    const header = readHeader(await reader.read(HEADER_LEN));
    if (length < HEADER_LEN + header.metaLen) throw new EnvelopeError("cut", "the envelope is cut short");
    const { count, total } = layout(length - HEADER_LEN - header.metaLen, header.chunkSize);
    if (header.needsPassphrase && (passphrase === null || passphrase === undefined)) {
      throw new EnvelopeError("needs-passphrase", "this secret is protected by a passphrase");
    }
    const { encKey, authToken } = await deriveKeys(
      fragmentKey, header.salt, header.needsPassphrase ? passphrase : null, header.iterations);
    authToken.fill(0);
    const aadBase = concat(header.raw, shareId);
    let meta;
    try {
      const metaRaw = await openChunk(encKey, header, aadBase, 0, KIND_META, await reader.read(header.metaLen));
      meta = decodeMeta(metaRaw);
      metaRaw.fill(0);
    } catch (e) {
      if (e instanceof EnvelopeError) throw e;
      throw new EnvelopeError("cannot-decrypt", "the secret cannot be decrypted: the link is damaged or the passphrase is wrong");
    }
    let left = length - HEADER_LEN - header.metaLen;
    async function* chunks() {
      for (let counter = 1; counter <= count; counter++) {
        const last = counter === count;
        const size = last ? left : header.chunkSize + TAG_LEN;
        const data = await reader.read(size);
        let plain;
        try {
          if (data.length !== size) throw new Error("cut");
          plain = await openChunk(encKey, header, aadBase, counter, last ? KIND_LAST : KIND_DATA, data);
        } catch (e) {
          throw new EnvelopeError("tampered", "the envelope is damaged: its content was altered, reordered or cut short");
        }
        left -= size;
        yield plain;
      }
    }
    return { meta, total, chunks: chunks() };
  }

  globalThis.OtsEnvelope = Object.freeze({
    EnvelopeError, b64uDecode, b64uEncode, readHeader, deriveKeys, deriveLinkProof, openEnvelope, openStream,
    ByteReader, nameIsSafe,
  });

  // ------------------------------------------------------------------ the page

  const $ = (id) => document.getElementById(id);
  const page = {};

  const GONE = {
    revealed: ["Already revealed", "This secret was already opened, and it is gone. " +
      "If you did not open it, tell the sender: someone else may have."],
    expired: ["Expired", "This secret expired before it was opened. Ask the sender to share it again."],
    revoked: ["Revoked", "The sender revoked this secret. Ask them if you still need it."],
    burned: ["Destroyed", "This secret was destroyed after too many wrong passphrases."],
  };

  function setStatus(text) {
    $("status").textContent = text;
  }

  /** Show one final state: a heading, a sentence, focus on the heading for screen readers. */
  function finish(state, title, text) {
    document.body.dataset.state = state;
    $("intro").hidden = true;
    $("details").hidden = true;
    $("reveal-form").hidden = true;
    const box = $("outcome");
    box.hidden = false;
    $("outcome-title").textContent = title;
    $("outcome-text").textContent = text;
    setStatus(title + ". " + text);
    $("status").classList.add("visually-hidden");
    $("outcome-title").focus();
  }

  function damaged() {
    finish("damaged", "This link is damaged",
      "Part of the link is missing or was changed, so the secret cannot be opened. " +
      "Copy the whole link again, including everything after the #, or ask the sender for a new one.");
  }

  function gone(state) {
    const [title, text] = GONE[state] || ["Gone", "This secret is no longer available."];
    finish(state, title, text);
  }

  function api(method, path, body) {
    return tools.api(page.apiBase, method, path, body);
  }

  /** Answers every reveal and lookup share: 404, 410, 403 and the rest. Returns true if handled. */
  function handleFailure(reply) {
    if (reply.status === 404) {
      finish("not-found", "Not found",
        "There is no such secret: the link is wrong, or the secret ended long ago.");
    } else if (reply.status === 410) {
      gone(reply.data.state);
    } else if (reply.status === 403 && reply.data.code === "forbidden_network") {
      finish("forbidden-network", "Not allowed from this network",
        "The sender allowed this secret to be opened only from certain networks. " +
        "Connect to one of them (for example your office network or VPN) and try again. Nothing was used up.");
    } else if (reply.status === 403 && reply.data.code === "forbidden_country") {
      finish("forbidden-country", "Not from an allowed country",
        "The sender allowed this secret to be opened only from certain countries, and your network address " +
        "is not from an allowed country. Open the link from one of them and try again. Nothing was used up.");
    } else if (reply.status === 400) {
      damaged();
    } else if (reply.status === 429) {
      setStatus("Too many attempts from your address. Wait " + (reply.retryAfter || "a few") + " seconds and try again.");
      return false;
    } else {
      setStatus("The relay answered with an error (" + reply.status + "). Try again later.");
      return false;
    }
    return true;
  }

  async function lookUp() {
    let reply;
    try {
      reply = await api("GET", "api/v1/secrets/" + page.id);
    } catch (e) {
      finish("offline", "The relay cannot be reached", "Check your connection and reload the page.");
      return;
    }
    if (reply.status !== 200) {
      if (!handleFailure(reply)) finish("error", "Something went wrong", $("status").textContent);
      return;
    }
    try {
      page.header = readHeader(b64uDecode(reply.data.header));
    } catch (e) {
      damaged();
      return;
    }
    page.needsPassphrase = page.header.needsPassphrase;
    page.needsLinkProof = reply.data.needs_link_proof === true;
    document.body.dataset.state = "ready";
    $("expires").textContent = formatExpiry(reply.data.expires_at);
    $("views").textContent = String(reply.data.views_left);
    $("needs-passphrase").textContent = page.needsPassphrase ? "yes" : "no";
    $("details").hidden = false;
    $("passphrase-row").hidden = !page.needsPassphrase;
    $("reveal-form").hidden = false;
    $("reveal").disabled = false;
    setStatus(page.needsPassphrase
      ? "A secret is waiting. Enter the passphrase the sender gave you, then press Reveal."
      : "A secret is waiting. Press Reveal to open it. It can be opened only once.");
    (page.needsPassphrase ? $("passphrase") : $("reveal")).focus();
  }

  async function reveal(event) {
    event.preventDefault();
    if (page.busy) return;
    const input = $("passphrase");
    const passphrase = page.needsPassphrase ? input.value : null;
    if (page.needsPassphrase && !passphrase) {
      setStatus("Enter the passphrase first.");
      input.focus();
      return;
    }
    page.busy = true;
    $("reveal").disabled = true;
    document.body.dataset.state = "working";
    setStatus(page.needsPassphrase ? "Checking the passphrase\u2026" : "Opening the secret\u2026");
    try {
      await revealWith(passphrase);
    } finally {
      page.busy = false;
    }
  }

  async function revealWith(passphrase) {
    const body = {};
    try {
      const keys = await deriveKeys(page.key, page.header.salt, passphrase, page.header.iterations);
      body.auth_token = b64uEncode(keys.authToken);
      keys.authToken.fill(0);
      if (page.needsLinkProof) {
        const proof = await deriveLinkProof(page.key, page.header.salt);
        body.link_proof = b64uEncode(proof);
        proof.fill(0);
      }
    } catch (e) {
      damaged();
      return;
    }
    let reply;
    try {
      const response = await fetch(new URL("api/v1/secrets/" + page.id + "/reveal", page.apiBase), {
        method: "POST", cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
        headers: { "Content-Type": "application/json", "Accept": STREAM_TYPE + ", application/json;q=0.5" },
        body: JSON.stringify(body),
      });
      if (response.status === 200 && (response.headers.get("Content-Type") || "").startsWith(STREAM_TYPE)) {
        await revealStreamed(response, passphrase);
        return;
      }
      let data = {};
      try {
        data = await response.json();
      } catch (e) {
        data = {};
      }
      reply = { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
    } catch (e) {
      setStatus("The relay cannot be reached. Check your connection and try again.");
      $("reveal").disabled = false;
      return;
    }
    if (reply.status === 401 && reply.data.code === "wrong_link") {
      damaged();  // the key in the link is not this share's: nothing was counted
      return;
    }
    if (reply.status === 401 && page.needsPassphrase) {
      const left = reply.data.attempts_left;
      document.body.dataset.state = "wrong-passphrase";
      $("passphrase").value = "";
      $("passphrase").setAttribute("aria-invalid", "true");
      $("passphrase-error").hidden = false;
      $("passphrase-error").textContent = "Wrong passphrase. " + left + (left === 1 ? " attempt" : " attempts") +
        " left before the secret is destroyed.";
      setStatus($("passphrase-error").textContent);
      $("reveal").disabled = false;
      $("passphrase").focus();
      return;
    }
    if (reply.status === 401) {
      damaged();
      return;
    }
    if (reply.status !== 200) {
      if (!handleFailure(reply)) $("reveal").disabled = false;
      return;
    }
    let opened;
    try {
      opened = await openEnvelope(b64uDecode(reply.data.envelope), page.idBytes, page.key, passphrase);
    } catch (e) {
      damaged();
      return;
    }
    page.key.fill(0);
    show(opened, reply.data.views_left);
  }

  function viewsText(viewsLeft) {
    return viewsLeft > 0 ? " It can be opened " + viewsLeft + " more " + (viewsLeft === 1 ? "time." : "times.")
      : " It is now gone from the relay: keep it somewhere safe.";
  }

  function megabytes(bytes) {
    return (bytes / 1e6).toLocaleString(undefined, { maximumFractionDigits: 1 }) + " MB";
  }

  /** A streamed answer: the metadata first, then the data chunk by chunk, never the whole envelope at once. */
  async function revealStreamed(response, passphrase) {
    const length = Number(response.headers.get("Content-Length"));
    const viewsLeft = Number(response.headers.get("X-Ots-Views-Left") || "0");
    const reader = new ByteReader(response.body);
    let opened;
    try {
      opened = await openStream(reader, length, page.idBytes, page.key, passphrase);
    } catch (e) {
      reader.cancel();
      damaged();
      return;
    }
    page.key.fill(0);
    if (opened.meta.type !== "file") {
      const plaintext = new Uint8Array(opened.total);
      let at = 0;
      try {
        for await (const chunk of opened.chunks) {
          plaintext.set(chunk, at);
          at += chunk.length;
          chunk.fill(0);
        }
      } catch (e) {
        plaintext.fill(0);
        damaged();
        return;
      }
      show({ meta: opened.meta, plaintext }, viewsLeft);
      return;
    }
    const name = opened.meta.name && nameIsSafe(opened.meta.name) ? opened.meta.name : "secret.bin";
    page.file = { name, size: opened.total, opened, reader, viewsLeft };
    $("intro").hidden = true;
    $("details").hidden = true;
    $("reveal-form").hidden = true;
    $("file-name").textContent = name;
    $("file-size").textContent = opened.total.toLocaleString() + " bytes";
    $("file-box").hidden = false;
    if (typeof globalThis.showSaveFilePicker === "function") {
      // Nothing more is read until the person picks a file: then each chunk goes straight into it.
      document.body.dataset.state = "file-stream";
      page.file.streaming = true;
      setStatus("The file " + name + " is ready. Press Save file and choose where to keep it: it is decrypted " +
        "straight into that file." + viewsText(viewsLeft));
      $("save").focus();
      return;
    }
    await collectFile();
  }

  /** Browsers without a file picker: the decrypted chunks become a Blob, which the browser holds in memory. */
  async function collectFile() {
    const file = page.file;
    document.body.dataset.state = "working";
    $("save").disabled = true;
    const parts = [];
    let done = 0;
    try {
      for await (const chunk of file.opened.chunks) {
        parts.push(chunk);
        done += chunk.length;
        progress(done, file.size);
      }
    } catch (e) {
      parts.forEach((part) => part.fill(0));
      damaged();
      return;
    }
    file.blob = new Blob(parts, { type: "application/octet-stream" });
    parts.forEach((part) => part.fill(0));
    document.body.dataset.state = "file";
    $("save").disabled = false;
    if (file.size >= MEMORY_NOTE_FROM) {
      $("file-note").hidden = false;
      $("file-note").textContent = "This browser cannot write a file as it is decrypted, so it holds all " +
        megabytes(file.size) + " in memory until you save it. For files this large, Chrome or Edge (which " +
        "can) or the ots app use much less memory.";
    }
    setStatus("The file " + file.name + " is ready. Press Save file to download it." + viewsText(file.viewsLeft));
    $("save").focus();
  }

  function progress(done, total) {
    const percent = total ? Math.floor((done * 100) / total) : 100;
    if (percent !== page.percent) {
      page.percent = percent;
      setStatus("Decrypting\u2026 " + percent + "%");
    }
  }

  /** Save by the File System Access API: the browser writes to a temporary file and gives it its name on close. */
  async function saveStreamed() {
    const file = page.file;
    let handle;
    try {
      handle = await globalThis.showSaveFilePicker({ suggestedName: file.name });
    } catch (e) {
      setStatus("No file was chosen. Press Save file to choose where to keep " + file.name + ".");
      return;
    }
    file.streaming = false;
    $("save").disabled = true;
    document.body.dataset.state = "working";
    let writable;
    try {
      writable = await handle.createWritable();
      let done = 0;
      for await (const chunk of file.opened.chunks) {
        await writable.write(chunk);
        chunk.fill(0);
        done += chunk.length;
        progress(done, file.size);
      }
      await writable.close();
    } catch (e) {
      if (writable) await writable.abort().catch(() => {});
      file.reader.cancel();
      finish("damaged", "The file could not be saved",
        "It was damaged on the way or could not be written, so nothing was kept. Ask the sender to share it again.");
      return;
    }
    document.body.dataset.state = "saved";
    setStatus("Saved " + file.name + "." + viewsText(file.viewsLeft));
  }

  function show(opened, viewsLeft) {
    $("intro").hidden = true;
    $("details").hidden = true;
    $("reveal-form").hidden = true;
    const more = viewsLeft > 0 ? " It can be opened " + viewsLeft + " more " + (viewsLeft === 1 ? "time." : "times.")
      : " It is now gone from the relay: keep it somewhere safe.";
    if (opened.meta.type === "file") {
      document.body.dataset.state = "file";
      const name = opened.meta.name && nameIsSafe(opened.meta.name) ? opened.meta.name : "secret.bin";
      page.file = { name, blob: new Blob([opened.plaintext], { type: "application/octet-stream" }) };
      opened.plaintext.fill(0);
      $("file-name").textContent = name;
      $("file-size").textContent = opened.plaintext.length.toLocaleString() + " bytes";
      $("file-box").hidden = false;
      setStatus("The file " + name + " is ready. Press Save file to download it." + more);
      $("save").focus();
      return;
    }
    document.body.dataset.state = "text";
    // As ots does: the exact text, a leading byte order mark included; bytes that are not UTF-8 are
    // shown as U+FFFD and the page says so, rather than losing the secret.
    let notUtf8 = false;
    try {
      page.text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(opened.plaintext);
    } catch (e) {
      page.text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(opened.plaintext);
      notUtf8 = true;
    }
    opened.plaintext.fill(0);
    $("secret-text").textContent = "\u2022".repeat(Math.min(Math.max(page.text.length, 8), 24));
    $("secret-text").classList.add("masked");
    $("text-box").hidden = false;
    const warning = notUtf8 ? " It is not valid UTF-8 text: bytes that are not show as \uFFFD; open the link with" +
      " ots to get them exactly." : "";
    setStatus("The secret is revealed, hidden behind dots. Use Show to display it or Copy to copy it." + warning + more);
    $("show").focus();
  }

  function toggleShow() {
    const button = $("show");
    const shown = button.getAttribute("aria-pressed") === "true";
    button.setAttribute("aria-pressed", shown ? "false" : "true");
    button.textContent = shown ? "Show" : "Hide";
    const box = $("secret-text");
    box.classList.toggle("masked", shown);
    box.textContent = shown ? "\u2022".repeat(Math.min(Math.max(page.text.length, 8), 24)) : page.text;
    setStatus(shown ? "The secret is hidden behind dots again." :
      "The secret is shown on screen. Hide it when you are done; it is gone from the relay.");
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(page.text);
      setStatus("Copied to the clipboard.");
    } catch (e) {
      setStatus("This browser did not allow copying. Use Show, then select the text and copy it.");
    }
  }

  function save() {
    if (page.file.streaming) {
      saveStreamed();
      return;
    }
    const url = URL.createObjectURL(page.file.blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = page.file.name;
    link.rel = "noopener";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    setStatus("Saving " + page.file.name + ".");
  }

  function start() {
    if (!$("reveal-form")) return;  // loaded outside the reveal page (tests)
    // Read the key, then drop it from the address bar and the history at once.
    const fragment = location.hash.slice(1);
    history.replaceState(null, "", location.pathname + location.search);
    const parts = location.pathname.split("/");
    page.id = parts[parts.length - 1];
    page.apiBase = new URL("../", location.href);
    $("reveal-form").addEventListener("submit", reveal);
    $("show").addEventListener("click", toggleShow);
    $("copy").addEventListener("click", copy);
    $("save").addEventListener("click", save);
    try {
      page.idBytes = b64uDecode(page.id);
      page.key = b64uDecode(fragment);
      if (page.idBytes.length !== SHARE_ID_LEN || page.key.length !== FRAGMENT_KEY_LEN) throw new TypeError("length");
    } catch (e) {
      damaged();
      return;
    }
    if (!globalThis.crypto || !crypto.subtle) {
      finish("unsupported", "This browser cannot open the secret",
        "It needs WebCrypto, which browsers offer only on https pages. Open the link with ots-desktop instead.");
      return;
    }
    lookUp();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
