"""Build the FastAPI application from Settings: store, executor, dispatcher, routes, and the layers every request
passes before any route, outermost first: security headers, allowed hosts, authentication, request bodies."""

from __future__ import annotations

from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from railyard.api import fair_share
from railyard.api.auth import TokenFile
from railyard.api.authentication import Authenticate, revoke_sessions
from railyard.api.body_limit import BodySizeLimit
from railyard.api.deps import Parts, SignInRequired
from railyard.api.dispatcher import Dispatcher
from railyard.api.headers import SecurityHeaders
from railyard.api.metrics import Metrics
from railyard.api.planning import Planner
from railyard.api.point_work import PointWork, threads_for
from railyard.api.problems import problem_response
from railyard.api.routes import (binaries, dashboard, docs, explain, health, jobs, models, outputs, replay, signin, sweep_page,
                                 sweeps, train)
from railyard.api.settings import Settings
from railyard.api.store.db import WalCheckpoints, hold_single_replica, make_engine, migrate, session_factory, write_lock
from railyard.api.sweeps import SweepDriver
from railyard.api.throttle import FailureThrottle
from railyard.binaries.store import BinaryStore
from railyard.errors import RailyardError
from railyard.launch.job import Executor
from railyard.launch.resources import LaunchConfig, load_config
from railyard.spec import describe_error


MAX_PROBLEMS = 50


def make_executor(settings: Settings, config: LaunchConfig) -> Executor:
    if settings.executor == "kubernetes":
        from railyard.launch.kubernetes import KubernetesExecutor

        return KubernetesExecutor(config)
    from railyard.launch.local import LocalExecutor

    return LocalExecutor(config, settings.jobs_dir, outputs=settings.artifacts)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one line per problem (the first MAX_PROBLEMS); inside the spec, the same messages the trainer gives."""
    detail = []
    errors = exc.errors()
    for error in errors[:MAX_PROBLEMS]:
        loc = list(error["loc"])
        message = error["msg"]
        if loc[:2] == ["body", "spec"]:
            inside = tuple(loc[2:])
            described = describe_error({**error, "loc": inside})
            # loc names the field; a check across fields names its own in the message
            message = described.split(": ", 1)[-1] if inside else described.removeprefix("(spec): ")
        detail.append({"loc": loc, "msg": message, "type": error["type"]})
    if len(errors) > MAX_PROBLEMS:
        detail.append({"loc": ["body"], "msg": f"… and {len(errors) - MAX_PROBLEMS} more problems", "type": "value_error"})
    return JSONResponse({"detail": detail}, status_code=422)


async def sign_in_first(request: Request, exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/signin?next={quote(exc.next_path)}", status_code=303)


def create_app(settings: Settings | None = None, executor: Executor | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check()
    engine = make_engine(settings.db, background_checkpoints=True)
    replica_lock = hold_single_replica(engine) if settings.dispatch else None
    migrate(engine)
    sessions = session_factory(engine)
    config = load_config(settings.launch_config)
    executor = executor or make_executor(settings, config)
    metrics = Metrics()
    binary_store = BinaryStore(settings.binaries_dir)
    limits = fair_share.Limits(settings.concurrency, settings.max_running_per_owner, settings.owner_weights)
    dispatcher = Dispatcher(sessions, executor, limits, metrics, settings.poll_seconds,
                            binary_store=binary_store, dev=settings.dev, max_attempts=settings.max_attempts, config=config)
    dispatcher.sweeps = SweepDriver(sessions, executor, engine.url.render_as_string(hide_password=False), dispatcher.stop_job,
                                    settings.max_queued_per_owner)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if checkpoints is not None:
            checkpoints.start()
        if settings.dispatch:
            dispatcher.start()
        if tokens is not None:
            revoke_sessions(sessions, parts.write_lock, tokens.hashes, all_but=True)
            tokens.watch(lambda gone: revoke_sessions(sessions, parts.write_lock, gone))
        yield
        if tokens is not None:
            tokens.close()
        dispatcher.stop()
        point_work.close()
        if checkpoints is not None:
            checkpoints.stop()
        engine.dispose()
        if replica_lock is not None:
            replica_lock.close()

    app = FastAPI(
        title="Railyard",
        version="1",
        description="Submit, track and report model training jobs.",
        lifespan=lifespan,
        openapi_url=None,  # served by routes/docs.py, behind a principal
        docs_url=None,
        redoc_url=None,
    )
    app.state.sessions = sessions
    app.state.engine = engine
    app.state.point_work = point_work = PointWork(threads_for(engine))
    app.state.parts = parts = Parts(
        settings=settings, config=config, executor=executor, dispatcher=dispatcher, planner=Planner(settings), binary_store=binary_store,
        metrics=metrics, write_lock=write_lock(engine),
        tokens=TokenFile(settings.auth_tokens) if settings.auth_tokens else None,
        throttle=FailureThrottle(settings.failed_tokens_burst, settings.failed_tokens_per_second))
    tokens = parts.tokens
    checkpoints = WalCheckpoints(engine, parts.write_lock) if engine.dialect.name == "sqlite" else None
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, streamed={"/binaries": settings.max_binary_bytes},
                       seconds=settings.body_seconds, max_held_bytes=settings.max_bodies_bytes)
    app.add_middleware(Authenticate, tokens=tokens, sessions=sessions, write_lock=parts.write_lock, throttle=parts.throttle,
                       behind_tls=settings.behind_tls)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.host_names())
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(packages=[("railyard.api", "static")]), name="static")
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(RailyardError, problem_response)
    for module in (train, explain, replay, sweeps, binaries, jobs, outputs, models, health, dashboard, sweep_page, signin, docs):
        app.include_router(module.router)
    return app
