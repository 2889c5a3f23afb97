"""Prometheus metrics of the link relay, in a registry of its own per application."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


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

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
