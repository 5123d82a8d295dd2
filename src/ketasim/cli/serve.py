"""``ketasim serve``: the web app and HTTP API under uvicorn."""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated

import typer

from ketasim import __version__
from ketasim.cli._app import ParamsOption, bad, check_range, console, disclaimer, parameters, refusing


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (1024–65535).")] = 8000,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="A Host header the server answers (repeat; default: localhost, 127.0.0.1, ::1)."),
    ] = None,
    validation_n: Annotated[int, typer.Option(help="Virtual patients per arm for /api/validation (20–2000).")] = 400,
    max_patient_courses: Annotated[
        int, typer.Option(help="Largest trial per request: patients × arms × replicates (100–10,000,000).")
    ] = 200_000,
    params_file: ParamsOption = None,
    db: Annotated[
        str | None,
        typer.Option(help="A clinic registry (sqlite:///PATH or postgresql+psycopg://…): its pages under /clinic."),
    ] = None,
    trust_proxy: Annotated[
        str | None,
        typer.Option(
            help="The IP address of a reverse proxy (TLS) whose X-Forwarded-For and X-Forwarded-Proto are "
            "believed; by default no client's are (a client could choose its address for the sign-in throttle)."
        ),
    ] = None,
) -> None:
    """Start the web app and HTTP API (FastAPI under uvicorn): pages at http://HOST:PORT/,
    API docs at /docs, schema at /openapi.json.  A research and decision-support tool: it
    does not replace clinical judgement."""
    check_range("--port", port, 1024, 65535)
    check_range("--validation-n", validation_n, 20, 2000, "patients")
    check_range("--max-patient-courses", max_patient_courses, 100, 10_000_000)
    import uvicorn

    from ketasim.api import Limits, create_app
    from ketasim.api.security import DEFAULT_HOSTS, check_host_pattern

    hosts = tuple(allow_host) if allow_host else DEFAULT_HOSTS
    for h in hosts:
        if not check_host_pattern(h):
            bad("--allow-host", f"{h!r} is not a host name, an IP address or *.domain")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        bad("--host", f"{host!r} is not an interface this machine can listen on (an IP address or a host name)")
    if trust_proxy is not None:
        try:
            ipaddress.ip_address(trust_proxy)
        except ValueError:
            bad("--trust-proxy", f"{trust_proxy!r} is not an IP address")
    limits = Limits(validation_n=validation_n, max_patient_courses=max_patient_courses, allowed_hosts=hosts)
    registry = None
    if db is not None:
        from ketasim.registry import Registry

        with refusing("--db", {"db": "--db"}):
            registry = Registry.open(db, create=False)
    app_ = create_app(limits, parameters(params_file), registry)
    console.print(f"ketasim {__version__}: open http://{host}:{port}/ (API docs: http://{host}:{port}/docs)")
    disclaimer()
    uvicorn.run(
        app_,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        proxy_headers=trust_proxy is not None,
        forwarded_allow_ips=trust_proxy or "",
    )
