"""The OpenAPI 3.0 document of the link relay, served at ``/api/v1/openapi.json``.

It is built here, next to the limits it quotes, so that it cannot drift from them; the
tests fuzz the running server against it and compare its routes with the server's.
"""

from __future__ import annotations

from typing import Any

from ots_desktop.server.link_model import (
    DEFAULT_EXPIRY_S,
    DEFAULT_VIEWS,
    MAX_CIDRS,
    MAX_COUNTRIES,
    MAX_EXPIRY_S,
    MAX_FAILED_ATTEMPTS,
    MAX_VIEWS,
    MIN_EXPIRY_S,
    MIN_VIEWS,
    SecretState,
)
from ots_desktop.server.link_policy import HASH_PATTERN, ID_PATTERN, TOKEN_PATTERN
from ots_desktop.server.request_openapi import request_paths, request_schemas

API_VERSION = "1.0.0"
_JSON = "application/json"
_STREAM = "application/octet-stream"
_B64U = "^[A-Za-z0-9_-]+$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                                 "schema": {"type": "integer", "minimum": 1}}}
# Answers that say when to come back.
_WITH_RETRY_AFTER = frozenset({429, 503, 507})
_CLOSED_RELAY_NOTE = ("A relay run with --create-token-file also wants 'Authorization: Bearer <create token>' "
                      "(401 create_token_required or wrong_create_token without a listed one).")


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Malformed request", 401: "Missing or wrong credentials", 403: "Not allowed",
            404: "No such share", 408: "The request body did not arrive in time (the connection is closed)",
            409: "The id is taken", 410: "The share has ended", 413: "Too large", 415: "Not JSON",
            429: "Rate limited, or too many bytes on their way from this address (see Retry-After)",
            503: "Too many large requests at once, or the relay's store is unavailable (store_unavailable): "
                 "try again (see Retry-After)",
            507: "The relay's storage budget is used up (see Retry-After)"}  # fmt: skip
    answers = {}
    for code in codes:
        answer = _json_response(text[code])
        if code in _WITH_RETRY_AFTER:
            answer["headers"] = _RETRY_AFTER
        answers[str(code)] = answer
    return answers


def _schemas(max_size: int) -> dict[str, Any]:
    state = {"type": "string", "enum": [s.value for s in SecretState]}
    time = {"type": "string", "format": "date-time"}
    share_id = {"type": "string", "pattern": ID_PATTERN}
    return {
        "Error": {
            "type": "object", "required": ["error", "code"],
            "properties": {"error": {"type": "string"}, "code": {"type": "string"}, "state": state,
                           "attempts_left": {"type": "integer"}, "max_size": {"type": "integer"}},
        },
        "CreateRequest": {
            "type": "object", "additionalProperties": False, "required": ["id", "envelope", "auth_hash"],
            "properties": {
                "id": share_id,
                "envelope": {"type": "string", "pattern": _B64U, "maxLength": max_size * 4 // 3 + 4,
                             "description": f"A v1 envelope, base64url; at most {max_size} bytes decoded"},
                "auth_hash": {"type": "string", "pattern": HASH_PATTERN},
                "link_hash": {"type": "string", "pattern": HASH_PATTERN,
                              "description": "SHA-256 of the link proof; without it, any wrong auth token counts"},
                "expires_in": {"type": "integer", "minimum": MIN_EXPIRY_S, "maximum": MAX_EXPIRY_S,
                               "default": DEFAULT_EXPIRY_S},
                "max_views": {"type": "integer", "minimum": MIN_VIEWS, "maximum": MAX_VIEWS,
                              "default": DEFAULT_VIEWS},
                "allow_cidrs": {"type": "array", "maxItems": MAX_CIDRS, "items": {"type": "string"}},
                "allow_countries": {
                    "type": "array", "maxItems": MAX_COUNTRIES, "items": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
                    "description": "ISO 3166-1 alpha-2 codes: only clients whose address the relay's country "
                                   "database places in one of them may reveal (an address without a country never "
                                   "may). Accepted only where /healthz says country_rules: true (else 400 "
                                   "country_rules_unavailable)"},
            },
        },
        "Created": {
            "type": "object", "required": ["id", "status_token", "expires_at"],
            "properties": {"id": share_id, "status_token": {"type": "string", "pattern": TOKEN_PATTERN},
                           "expires_at": time},
        },
        "Meta": {
            "type": "object", "required": ["id", "state", "needs_passphrase", "expires_at", "views_left", "header"],
            "properties": {"id": share_id, "state": state, "needs_passphrase": {"type": "boolean"},
                           "expires_at": time, "views_left": {"type": "integer"},
                           "header": {"type": "string", "pattern": _B64U},
                           "needs_link_proof": {"type": "boolean"}},
        },
        "RevealRequest": {
            "type": "object", "additionalProperties": False, "required": ["auth_token"],
            "properties": {"auth_token": {"type": "string", "pattern": TOKEN_PATTERN},
                           "link_proof": {"type": "string", "pattern": TOKEN_PATTERN}},
        },
        "Revealed": {
            "type": "object", "required": ["envelope", "views_left"],
            "properties": {"envelope": {"type": "string", "pattern": _B64U}, "views_left": {"type": "integer"}},
        },
        "Status": {
            "type": "object",
            "required": ["id", "state", "created_at", "expires_at", "ended_at", "max_views", "views_left",
                         "failed_attempts", "blocked_attempts", "needs_passphrase", "reveals"],
            "properties": {
                "id": share_id, "state": state, "created_at": time, "expires_at": time,
                "ended_at": {**time, "nullable": True}, "max_views": {"type": "integer"},
                "views_left": {"type": "integer"}, "failed_attempts": {"type": "integer"},
                "blocked_attempts": {"type": "integer"}, "needs_passphrase": {"type": "boolean"},
                "reveals": {"type": "array", "items": {
                    "type": "object", "required": ["at", "from"],
                    "properties": {"at": time, "from": {"type": "string"}}}},
            },
        },
        "Revoked": {"type": "object", "required": ["id", "state"], "properties": {"id": share_id, "state": state}},
        "Health": {"type": "object", "required": ["status", "store"],
                   "properties": {"status": {"type": "string"}, "store": {"type": "string"},
                                  "country_rules": {"type": "boolean",
                                                    "description": "Whether links may name countries"},
                                  "streaming": {"type": "boolean", "description": "Whether the relay takes "
                                                "streamed envelopes (PUT /api/v1/secrets/{id})"}}},
    }  # fmt: skip


def build_openapi(max_size: int, public_url: str) -> dict[str, Any]:
    """The whole document for a relay accepting envelopes up to ``max_size`` bytes."""
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    bearer: list[dict[str, list[str]]] = [{"statusToken": []}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "ots-desktop link relay", "version": API_VERSION,
                 "description": "Parks encrypted one-time secrets. The relay never sees a key or plaintext."},
        "servers": [{"url": public_url}],
        "components": {
            "schemas": {**_schemas(max_size), **request_schemas(max_size)},
            "securitySchemes": {"statusToken": {"type": "http", "scheme": "bearer",
                                                "description": "The status token returned at creation"}},
        },
        "paths": {
            "/api/v1/secrets": {"post": {
                "operationId": "createSecret", "summary": "Park an encrypted share",
                "description": _CLOSED_RELAY_NOTE,
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("CreateRequest")}}},
                "responses": {"201": _json_response("Stored durably", "Created"),
                              **_errors(400, 401, 408, 409, 413, 415, 429, 503, 507)},
            }},
            "/api/v1/secrets/{id}": {
                "parameters": [id_param],
                "put": {"operationId": "createSecretStreamed", "summary": "Park a large envelope, streamed",
                        "description": "The envelope as the raw body (exact Content-Length); the policy in "
                                       "X-Ots-Auth-Hash (required), X-Ots-Link-Hash, X-Ots-Expires-In, "
                                       "X-Ots-Max-Views, X-Ots-Allow-Cidrs, X-Ots-Allow-Countries (comma-separated). "
                                       "Refusals come from the head, before the body (Expect: 100-continue). "
                                       + _CLOSED_RELAY_NOTE,
                        "parameters": [{"name": "X-Ots-Auth-Hash", "in": "header", "required": True,
                                        "schema": {"type": "string", "pattern": HASH_PATTERN}}],
                        "requestBody": {"required": True, "content": {_STREAM: {"schema": {
                            "type": "string", "format": "binary", "maxLength": max_size}}}},
                        "responses": {"201": _json_response("Stored durably", "Created"),
                                      "411": _json_response("No Content-Length"),
                                      **_errors(400, 401, 408, 409, 413, 415, 429, 503, 507)}},
                "get": {"operationId": "getSecretMeta", "summary": "Describe a share without consuming it",
                        "responses": {"200": _json_response("Pending", "Meta"), **_errors(400, 404, 410, 503)}},
                "delete": {"operationId": "revokeSecret", "summary": "Revoke a pending share", "security": bearer,
                           "responses": {"200": _json_response("Revoked", "Revoked"),
                                         **_errors(400, 401, 403, 404, 410, 503)}},
            },
            "/api/v1/secrets/{id}/reveal": {"parameters": [id_param], "post": {
                "operationId": "revealSecret",
                "summary": f"Consume one view (with the link proof, a wrong auth token counts; the "
                           f"{MAX_FAILED_ATTEMPTS}th burns; without it nothing counts)",
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("RevealRequest")}}},
                "responses": {"200": {"description": "The envelope: JSON, or raw bytes (with X-Ots-Views-Left) when "
                                                     "it was parked streamed and Accept names " + _STREAM,
                                      "content": {_JSON: {"schema": _ref("Revealed")},
                                                  _STREAM: {"schema": {"type": "string", "format": "binary"}}}},
                              "406": _json_response("A streamed envelope asked for as JSON only (nothing used)"),
                              **_errors(400, 401, 403, 404, 408, 410, 413, 415, 429, 503)},
            }},
            "/api/v1/secrets/{id}/status": {"parameters": [id_param], "get": {
                "operationId": "getSecretStatus", "summary": "The sender's view of a share", "security": bearer,
                "responses": {"200": _json_response("Status", "Status"), **_errors(400, 401, 403, 404, 503)},
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.0 document",
                                      "content": {_JSON: {"schema": {"type": "object"}}}}},
            }},
            "/healthz": {"get": {"operationId": "health", "summary": "Liveness and store reachability",
                                 "responses": {"200": _json_response("Healthy", "Health"),
                                               "503": _json_response("Store unreachable", "Health")}}},
            "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus metrics",
                                 "responses": {"200": {"description": "Text exposition format",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/s/{id}": {"parameters": [id_param], "get": {
                "operationId": "revealPage", "summary": "The reveal page (never consumes)",
                "responses": {"200": {"description": "HTML page",
                                      "content": {"text/html": {"schema": {"type": "string"}}}},
                              **_errors(400)},
            }},
            "/static/{name}": {"parameters": [name_param], "get": {
                "operationId": "revealPageAsset", "summary": "The reveal page's own script and style sheet",
                "responses": {"200": {"description": "The file",
                                      "content": {"text/javascript": {"schema": {"type": "string"}},
                                                  "text/css": {"schema": {"type": "string"}}}},
                              "404": _json_response("No such file")},
            }},
            **request_paths(id_param, bearer),
        },
    }  # fmt: skip
