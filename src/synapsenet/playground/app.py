"""The playground's web app: the page, its three assets, and one WebSocket per tab.

Safe by default: only the files of ``static/`` are served, looked up by exact name in a table
made at start-up (no path from a request ever reaches the file system); while the server
listens on the loopback only, requests must name a loopback host (a web page elsewhere
cannot reach it by DNS rebinding), and a WebSocket must come from the playground's own page
(its Origin). Every message from the page is checked (:mod:`.config`) and a bad one is
answered with an error the page shows; the connection carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..hardware import PRESETS
from ..hardware.devices import DEVICE_PRESETS
from . import config as settings
from .data import FEATURES
from .session import GRID, THUMB, Outbox, Session, feature_pictures

MAX_SESSIONS = 16  # tabs training at once; one more is told to close one
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _assets() -> dict[str, tuple[bytes, str]]:
    """URL path → (content, media type) for every file the page needs, read once."""
    folder = resources.files(__package__) / "static"
    out = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in TYPES:
            out["/static/" + entry.name] = (entry.read_bytes(), TYPES[suffix])
    out["/"] = out["/static/index.html"]
    return out


def meta() -> dict:
    """What the page is told first: the settings (kinds, defaults, bounds), the chips and
    devices to offer, the features' labels."""
    return {"type": "meta", "schema": settings.schema(),
            "features": {k: label for k, (label, _) in FEATURES.items()},
            "feature_pictures": feature_pictures(), "thumb": GRID // THUMB,
            "presets": {name: PRESETS[name]().source for name in PRESETS},
            "devices": {name: DEVICE_PRESETS[name]().source for name in DEVICE_PRESETS},
            "limits": {"layers": settings.MAX_LAYERS, "neurons": settings.MAX_NEURONS,
                       "points": settings.MAX_POINTS, "message": settings.MAX_MESSAGE}}


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(value: str) -> str:
    """The host of a Host header's value (``127.0.0.1:8000``, ``[::1]:8000``)."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class _Guard:
    """Refuses requests that name a host other than the loopback while the server listens
    only there, and WebSockets opened by another site's page."""

    def __init__(self, app, loopback_only: bool):
        self.app, self.loopback_only = app, loopback_only

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "")
            bad = self.loopback_only and not is_loopback(_host_of(host))
            origin = headers.get("origin")
            if scope["type"] == "websocket" and origin is not None and \
                    origin not in (f"http://{host}", f"https://{host}"):
                bad = True
            if bad:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await PlainTextResponse("forbidden host", 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(loopback_only: bool = True) -> Starlette:
    """The ASGI app. ``app.state.sessions``: the sessions of the open tabs."""
    assets = _assets()

    async def asset(request):
        found = assets.get(request.url.path)
        if found is None:
            return PlainTextResponse("not found", 404, headers=HEADERS)
        body, media = found
        return Response(body, media_type=media, headers=HEADERS)  # HEAD: the server
        # sends the headers alone

    async def not_found(request):
        return PlainTextResponse("not found", 404, headers=HEADERS)

    routes = [Route("/", asset, methods=["GET", "HEAD"]),
              Route("/static/{name}", asset, methods=["GET", "HEAD"]),
              WebSocketRoute("/ws", _connection),
              Route("/{rest:path}", not_found, methods=["GET", "HEAD", "POST", "PUT",
                                                        "DELETE", "PATCH", "OPTIONS"])]
    app = Starlette(routes=routes, middleware=[Middleware(_Guard, loopback_only=loopback_only)])
    app.state.sessions = set()
    app.state.meta = meta()
    return app


async def _connection(websocket: WebSocket) -> None:
    sessions: set = websocket.app.state.sessions
    await websocket.accept()
    outbox = Outbox(asyncio.get_running_loop())
    if len(sessions) >= MAX_SESSIONS:
        await websocket.send_json({"type": "error", "message": f"{MAX_SESSIONS} tabs are "
                                   "training already: close one, then reload this page"})
        await websocket.close(code=1013)
        return
    current = settings.defaults()
    outbox.put(websocket.app.state.meta)
    outbox.put(_accepted(current))
    session = Session(outbox, current)
    sessions.add(session)
    sender = asyncio.create_task(_send_all(websocket, outbox))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            try:
                kind, changes = settings.parse_message(
                    text if text is not None else message.get("bytes"))
                if kind == "config":
                    current = settings.check({**current, **changes})
                    session.configure(current)
                    outbox.put(_accepted(current))
                else:
                    session.command(kind)
            except settings.MessageError as e:
                outbox.put({"type": "error", "message": str(e)})
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        session.close()
        sessions.discard(session)
        await asyncio.to_thread(session.join, 5.0)
        if websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


def _accepted(config: dict) -> dict:
    return {"type": "config", "config": config, "chip": settings.chip_values(config)}


async def _send_all(websocket: WebSocket, outbox: Outbox) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        while True:
            for text in await outbox.take():
                await websocket.send_text(text)
