"""Prometheus metrics of the service (`GET /metrics`), one registry per service instance."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily

from jsm_autopilot.connector.client import JiraClient


class _JiraCalls:
    """Reads the client's own counters at scrape time, so every call is counted without hooks."""

    def __init__(self, client: JiraClient):
        self.client = client

    def collect(self):
        calls = CounterMetricFamily("jsm_autopilot_jira_calls", "Jira API calls by HTTP status (0: no answer)", labels=["status"])
        for status, count in sorted(self.client.calls.items()):
            calls.add_metric([str(status)], count)
        yield calls
        yield CounterMetricFamily("jsm_autopilot_jira_retries", "Jira calls retried after 408, 429, 5xx or a lost connection",
                                  value=self.client.retries)


class Metrics:
    def __init__(self, client: JiraClient):
        self.registry = CollectorRegistry()
        self.events_received = Counter("jsm_autopilot_webhook_events_received", "Webhook deliveries by answer",
                                       ["outcome"], registry=self.registry)
        self.events_processed = Counter("jsm_autopilot_webhook_events_processed", "Stored events handled by workers",
                                        ["outcome"], registry=self.registry)
        self.actions_applied = Counter("jsm_autopilot_actions_applied", "Actions applied in Jira, by rule",
                                       ["rule"], registry=self.registry)
        self.sweep_seconds = Histogram("jsm_autopilot_sweep_duration_seconds", "Duration of sweeps", registry=self.registry,
                                       buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600))
        self.sweep_tickets = Gauge("jsm_autopilot_sweep_tickets_seen", "Candidate tickets the last sweep looked at",
                                   registry=self.registry)
        self.api_requests = Counter("jsm_autopilot_api_requests", "POST /api/deliveries by outcome", ["outcome"],
                                    registry=self.registry)
        # What admins alert on (deploy/prometheus/alerts.yml): a firing or an event that failed for good.
        self.firings_failed = Counter("jsm_autopilot_firings_failed", "Firings that failed after their retries, by rule",
                                      ["rule"], registry=self.registry)
        self.dead_letters = Counter("jsm_autopilot_dead_letters", "Webhook events that failed for good (events --failed)",
                                    registry=self.registry)
        self.uncertain_writes = Gauge("jsm_autopilot_uncertain_writes", "Customer-visible writes sent without an answer, not yet "
                                      "known to have landed (limits.uncertain_settle)", registry=self.registry)
        self.ready = Gauge("jsm_autopilot_ready", "1 while /readyz answers ready, else 0", registry=self.registry)
        self.registry.register(_JiraCalls(client))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def counting(counter: Counter) -> Callable[[str], None]:
    """`counter.labels(outcome).inc()`, each outcome's child looked up once: the lookup takes the
    metric's lock and cost three times the increment, on every webhook delivery."""
    children: dict = {}

    def count(outcome: str) -> None:
        child = children.get(outcome)
        if child is None:
            child = children[outcome] = counter.labels(outcome)  # the same child in a race: labels() keeps one per value
        child.inc()

    return count
