"""Prometheus metrics of the link relay, in a registry of its own per application."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Label sets whose metric children are kept at hand; the method is the client's word, so the map is bounded.
MAX_CACHED_LABELS = 256


class RelayMetrics:
    """Request counts and latency by route template, plus share outcomes. Never an id or a token."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("ots_relay_requests", "HTTP requests by route template, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("ots_relay_request_seconds", "Time to answer a request, by route template",
                                 ["route"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.created = Counter("ots_relay_shares_created", "Shares parked on this relay", registry=self.registry)
        self.reveals = Counter("ots_relay_reveals", "Reveal attempts by outcome", ["outcome"],
                               registry=self.registry)
        self.rate_limited = Counter("ots_relay_rate_limited", "Requests refused by a rate limit", ["endpoint"],
                                    registry=self.registry)
        self.store_up = Gauge("ots_relay_store_up", "1 when the last health check reached the store",
                              registry=self.registry)
        self._answered: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._outcomes: dict[str, Counter] = {}  # reveal outcomes: a fixed handful, set by the relay's code

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request and its time (the label lookups of a route, method and status done once)."""
        key = (route, method, status)
        children = self._answered.get(key)
        if children is None:
            children = (self.requests.labels(route, method, str(status)), self.latency.labels(route))
            if len(self._answered) < MAX_CACHED_LABELS:
                self._answered[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def revealed(self, outcome: str) -> None:
        """Count one reveal attempt by its outcome (a RevealOutcome value, ``wrong_link`` or ``blocked``)."""
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes.setdefault(outcome, self.reveals.labels(outcome))
        child.inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
