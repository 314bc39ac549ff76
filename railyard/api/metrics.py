"""Prometheus metrics of the service: jobs created, finished by state and resource, durations, queue depth."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from railyard.api.store.models import Job
from railyard.states import JobState

DURATION_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.created = Counter("railyard_jobs_created", "Jobs accepted by POST /train.", ["compute_resource"], registry=self.registry)
        self.finished_jobs = Counter("railyard_jobs_finished", "Jobs that ended, by final state.", ["state", "compute_resource"], registry=self.registry)
        self.duration = Histogram("railyard_job_duration_seconds", "Wall time from creation to the end of a job.",
                                  ["compute_resource"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.jobs = Gauge("railyard_jobs", "Jobs in the store by current state.", ["state"], registry=self.registry)
        self.queue_depth = Gauge("railyard_queue_depth", "Jobs waiting for the executor.", registry=self.registry)

    def finished(self, job: Job) -> None:
        self.finished_jobs.labels(job.state, job.compute_resource).inc()
        if job.finished_at and job.created_at:
            self.duration.labels(job.compute_resource).observe((job.finished_at - job.created_at).total_seconds())

    def render(self, counts: dict[str, int]) -> bytes:
        for state in (s.value for s in JobState):
            self.jobs.labels(state).set(counts.get(state, 0))
        self.queue_depth.set(counts.get(JobState.queued.value, 0))
        return generate_latest(self.registry)
