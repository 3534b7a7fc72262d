"""The playground: watch the textbook network learn, and a chip learn, in the browser.

``synapsenet playground`` serves a page (``static/``: no CDN, no build step) that trains a
network on synapsenet's own engine, one session per tab (:mod:`.session`), streamed over a
WebSocket (:mod:`.app`). :func:`serve` is the command; :func:`create_app` the ASGI app.
"""

from __future__ import annotations

import socket
import sys
import threading
import webbrowser

from ..errors import ConfigError
from .app import create_app, is_loopback

__all__ = ["create_app", "serve", "server", "bind", "url_of", "is_loopback", "exposure_warning"]

WS_MAX_SIZE = 1 << 20  # bytes: a larger message closes the connection (the page sends ~1 KB)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or a ConfigError saying why not in one line."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be in 0…65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise ConfigError(f"--host {host!r} is not an address of this machine "
                          f"({getattr(e, 'strerror', None) or e})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        what = "is in use (another server listens there; choose another --port, or 0 " \
               "for any free one)" if e.errno in (98, 48, 10048) else f"cannot be used " \
               f"({e.strerror or e})"
        raise ConfigError(f"{host}:{port} {what}") from None
    sock.setblocking(False)
    return sock


def exposure_warning(host: str) -> str | None:
    """What to say when ``host`` lets other machines in (None for the loopback)."""
    if is_loopback(host):
        return None
    return (f"listening on {host}: anyone who can reach this machine can open the "
            "playground and use its processors; use --host 127.0.0.1 to keep it to this "
            "machine")


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else \
        f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def server(sock: socket.socket, host: str, log_level: str = "warning"):
    """A uvicorn server of the playground on the bound socket (run with
    ``server.run(sockets=[sock])``)."""
    import uvicorn
    from uvicorn.config import WS_PROTOCOLS

    # websockets' sans-I/O protocol where this uvicorn has it (its legacy one is deprecated)
    ws = "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"
    config = uvicorn.Config(create_app(loopback_only=is_loopback(host)), log_level=log_level,
                            lifespan="off", ws=ws, ws_max_size=WS_MAX_SIZE,
                            access_log=False, timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True) -> None:
    """Serve the playground until Ctrl-C: print the URL, open the browser (unless told not
    to), warn when the host is reachable from other machines."""
    sock = bind(host, port)
    url = url_of(sock, host)
    srv = server(sock, host)
    print(f"synapsenet playground on {url}  (Ctrl-C stops it)", flush=True)
    warning = exposure_warning(host)
    if warning:
        print(f"synapsenet: warning: {warning}", file=sys.stderr, flush=True)
    if open_browser:
        def opener():
            while not srv.started and not srv.should_exit:
                threading.Event().wait(0.05)
            if srv.started:
                webbrowser.open(url)
        threading.Thread(target=opener, daemon=True).start()
    srv.run(sockets=[sock])
