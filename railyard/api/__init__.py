"""The Railyard API service: submit, track and report training jobs over HTTP.

`app.create_app(settings)` builds the FastAPI application; the job store
(`store/`) keeps jobs, their state transitions and idempotency keys; the
dispatcher moves queued jobs to an executor and follows them to the end.
"""
