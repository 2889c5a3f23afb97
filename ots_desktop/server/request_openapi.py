"""The secret-request part of the relay's OpenAPI document (merged by :mod:`ots_desktop.server.openapi`)."""

from __future__ import annotations

from typing import Any

from ots_desktop.server.link_model import MAX_CIDRS, MAX_COUNTRIES, MAX_EXPIRY_S, MIN_EXPIRY_S
from ots_desktop.server.link_policy import HASH_PATTERN, ID_PATTERN, TOKEN_PATTERN
from ots_desktop.server.request_model import MAX_LABEL_BOX_LEN, RequestState

_JSON = "application/json"
_B64U = "^[A-Za-z0-9_-]+$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Malformed request, a missing request proof, or an answer that is not for this request",
            401: "Missing or wrong credentials (status token, request proof)", 403: "Not allowed",
            404: "No such request", 408: "The request body did not arrive in time", 409: "Already answered "
            "(a second answer), not answered yet (open), or the id is taken (register)",
            410: "The request has ended", 413: "Too large", 415: "Not JSON", 429: "Rate limited",
            503: "Too many large requests at once, or the store is unavailable (see Retry-After)",
            507: "The relay's storage budget is used up (see Retry-After)"}  # fmt: skip
    return {str(code): _answer(text[code]) for code in codes}


def request_schemas(max_size: int) -> dict[str, Any]:
    """Schemas of the request endpoints."""
    request_id = {"type": "string", "pattern": ID_PATTERN, "description": "16 random bytes, base64url"}
    state = {"type": "string", "enum": [s.value for s in RequestState]}
    time = {"type": "string", "format": "date-time"}
    nullable_time = {**time, "nullable": True}
    hex_hash = {"type": "string", "pattern": HASH_PATTERN}
    return {
        "RegisterRequest": {"type": "object", "additionalProperties": False,
                            "required": ["id", "proof_hash", "key_hash"], "properties": {
            "id": request_id,
            "proof_hash": {**hex_hash, "description": "SHA-256 of the request proof (derived from the fragment)"},
            "key_hash": {**hex_hash, "description": "SHA-256 of the request's X25519 public key"},
            "label_box": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "maxLength": MAX_LABEL_BOX_LEN,
                          "description": "The label sealed for link holders (AES-256-GCM with a key derived "
                                         "from the fragment); opaque to the relay"},
            "expires_in": {"type": "integer", "minimum": MIN_EXPIRY_S, "maximum": MAX_EXPIRY_S},
            "allow_cidrs": {"type": "array", "maxItems": MAX_CIDRS, "items": {"type": "string"}},
            "allow_countries": {"type": "array", "maxItems": MAX_COUNTRIES,
                                "items": {"type": "string", "pattern": "^[A-Za-z]{2}$"}}}},
        "Registered": {"type": "object", "required": ["id", "status_token", "expires_at"], "properties": {
            "id": request_id, "status_token": {"type": "string", "pattern": TOKEN_PATTERN}, "expires_at": time}},
        "RequestMeta": {"type": "object", "required": ["id", "state", "label_box", "expires_at", "max_size"],
                        "properties": {"id": request_id, "state": state,
                                       "label_box": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$",
                                                     "description": "Empty when the request has no label"},
                                       "expires_at": time, "max_size": {"type": "integer"}}},
        "AnswerRequest": {"type": "object", "additionalProperties": False, "required": ["request_proof", "answer"],
                          "properties": {
            "request_proof": {"type": "string", "pattern": TOKEN_PATTERN},
            "answer": {"type": "string", "pattern": _B64U, "maxLength": max_size * 4 // 3 + 4,
                       "description": "The sealed answer (72-byte answer header, then a v1 envelope), base64url"}}},
        "Answered": {"type": "object", "required": ["id", "state"], "properties": {"id": request_id, "state": state}},
        "OpenedAnswer": {"type": "object", "required": ["id", "answer"], "properties": {
            "id": request_id, "answer": {"type": "string", "pattern": _B64U}, "answered_at": nullable_time,
            "answered_from": {"type": "string", "nullable": True}}},
        "RequestStatus": {"type": "object", "required": ["id", "state"], "properties": {
            "id": request_id, "state": state, "created_at": time, "expires_at": time,
            "answered_at": nullable_time, "answered_from": {"type": "string", "nullable": True},
            "ended_at": nullable_time, "refused_answers": {"type": "integer"},
            "blocked_attempts": {"type": "integer"}}},
    }  # fmt: skip


def request_paths(id_param: dict[str, Any], bearer: list[dict[str, list[str]]]) -> dict[str, Any]:
    """Paths of the request endpoints."""
    return {
        "/api/v1/requests": {"post": {
            "operationId": "registerRequest", "summary": "Register a secret request",
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("RegisterRequest")}}},
            "responses": {"201": _answer("Registered", "Registered"), **_errors(400, 401, 408, 409, 413, 415, 429)},
        }},
        "/api/v1/requests/{id}": {
            "parameters": [id_param],
            "get": {"operationId": "getRequestMeta", "summary": "What the answer page shows (changes nothing)",
                    "responses": {"200": _answer("Pending", "RequestMeta"), **_errors(400, 404, 409, 410)}},
            "delete": {"operationId": "revokeRequest", "summary": "Withdraw a request (its answer is deleted)",
                       "security": bearer, "responses": {"200": _answer("Revoked", "Answered"),
                                                         **_errors(400, 401, 403, 404, 410)}},
        },
        "/api/v1/requests/{id}/answer": {"parameters": [id_param], "post": {
            "operationId": "answerRequest", "summary": "Post the one answer (with the request proof)",
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("AnswerRequest")}}},
            "responses": {"201": _answer("Stored", "Answered"),
                          **_errors(400, 401, 403, 404, 408, 409, 410, 413, 415, 429, 503, 507)},
        }},
        "/api/v1/requests/{id}/open": {"parameters": [id_param], "post": {
            "operationId": "openRequestAnswer", "summary": "Fetch the answer once; it is deleted", "security": bearer,
            "responses": {"200": _answer("The answer", "OpenedAnswer"), **_errors(400, 401, 403, 404, 409, 410)},
        }},
        "/api/v1/requests/{id}/status": {"parameters": [id_param], "get": {
            "operationId": "getRequestStatus", "summary": "The requester's view of a request", "security": bearer,
            "responses": {"200": _answer("Status", "RequestStatus"), **_errors(400, 401, 403, 404)},
        }},
        "/r/{id}": {"parameters": [id_param], "get": {
            "operationId": "answerPage", "summary": "The answer page (changes nothing)",
            "responses": {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **_errors(400)},
        }},
    }  # fmt: skip
