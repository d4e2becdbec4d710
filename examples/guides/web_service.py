"""Guide: an actor system in a web service (docs/guides/web-services.md)."""

from __future__ import annotations

import re
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from papyra import Actor, ActorSystem
from papyra.contrib.asgi import PapyraASGIConfig
from papyra.contrib.starlette import StarlettePapyra
from papyra.persistence.json import JsonFilePersistence


class Greeter(Actor[str, str]):
    async def receive(self, message: str) -> str:
        return f"hello, {message}"


# Tracing: spans go to a provider of our own; a real service exports them (OTLP ...).
spans = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
tracer = provider.get_tracer("shop")


def build_app(log: Path) -> Starlette:
    async def greet(request: Request) -> PlainTextResponse:
        name = request.path_params["name"]
        with tracer.start_as_current_span("GET /greet"):  # the request's own span
            reply = await request.app.state.greeter.ask(name)
        return PlainTextResponse(reply)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # install() runs this inside the system's lifetime: the system is already started.
        app.state.greeter = system.spawn(Greeter, name="greeter")
        yield

    app = Starlette(routes=[Route("/greet/{name}", greet)], lifespan=lifespan)
    papyra = StarlettePapyra(
        lambda: ActorSystem(
            system_id="shop", persistence=JsonFilePersistence(log), tracing=provider
        ),
        config=PapyraASGIConfig(metrics_format="prometheus"),
    )
    system = papyra.install(app)  # /healthz and /metrics; started and closed with the app
    return app


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # port 0: the OS picks a free one
    return sock


def masked(line: str) -> str:
    """Timings vary from run to run: hide the values of the latency histogram."""
    if line.startswith(("papyra_ask_duration_seconds_sum", "papyra_ask_duration_seconds_bucket")):
        return re.sub(r" \S+$", " <n>", line)
    return line


WANTED = (
    "papyra_actors_alive{",
    "papyra_messages_processed_total{",
    "papyra_ask_duration_seconds_count{",
    "papyra_ask_duration_seconds_sum{",
    "papyra_persistence_write_errors_total{",
    "# EOF",
)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "facts.ndjson")
        sock = free_socket()
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            with anyio.fail_after(10):  # started: the lifespan startup is done, it listens
                while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, no event
                    await anyio.sleep(0.01)

            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for name in ("ada", "bob"):
                    reply = await client.get(f"/greet/{name}")
                    print(f"GET /greet/{name}: {reply.status_code} {reply.text}")

                redirect = await client.get("/healthz")
                location = httpx.URL(redirect.headers["location"]).path  # the URL holds the port
                print(f"GET /healthz: {redirect.status_code} -> {location}")
                health = await client.get("/healthz/")
                print(f"GET /healthz/: {health.status_code} {health.text}")

                scrape = await client.get("/metrics/")
                print(f"GET /metrics/: {scrape.status_code} {scrape.headers['content-type']}")
                for line in scrape.text.splitlines():
                    if line.startswith(WANTED):
                        print("  " + masked(line))

            server.should_exit = True  # uvicorn's graceful shutdown: the system closes
        sock.close()

    print("traces:")
    finished = spans.get_finished_spans()
    by_parent: dict[Any, list[Any]] = {}
    for span in finished:
        by_parent.setdefault(span.parent.span_id if span.parent else None, []).append(span)

    def show(parent: Any, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time):
            print(f"  {'  ' * depth}{span.name} ({span.kind.name})")
            show(span.context.span_id, depth + 1)

    show(None, 0)


if __name__ == "__main__":
    anyio.run(main)
