"""`vasa serve`: the HTTP + WebSocket server (aiohttp). Transport and session bookkeeping only:
the model work is `StreamSession`'s, the real-time pacing `LiveStream`'s.

Routes: `/` the page and its two scripts; `/api/portrait` (POST an image: an id back),
`/api/speech.wav` (the bundled speech), `/api/health` (sessions, memory); `/ws` one session.

Compute (motion windows, rendering, JPEG) runs in `workers` threads, two jobs per window (its
motion, then its frames, beside the next window's motion: `LiveStream.run`), so the event loop
only moves bytes; portrait uploads are encoded in one more thread, outside the
sessions' workers. At most `max_sessions` run, counted from a valid start message; the next one
is told "busy" and closed (1013). A connection has `start_timeout_s` to start, and one client
address holds at most `max_peer_connections` sockets, so idle sockets cannot squat the slots.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import cv2
from aiohttp import WSMsgType, web

from vasa.audio import AudioFeatureExtractor, get_extractor
from vasa.latent.basis import FaceBasis, default_basis
from vasa.motion.checkpoint import DEFAULT_MODEL, MotionModel, load_model
from vasa.pipelines.stream import StreamConfig, StreamFrame, StreamSession
from vasa.portrait import Portrait, make_portrait
from vasa.procstat import rss_mb
from vasa.serve.live import LiveConfig, LiveStream
from vasa.serve.protocol import (
    BUSY_CLOSE_CODE,
    MAX_AUDIO_BYTES,
    PLAYOUT_DELAY_S,
    PROTOCOL_VERSION,
    SAMPLE_RATE,
    ControlUpdate,
    ProtocolError,
    Start,
    apply_controls,
    audio_bytes,
    pack_frame,
    parse_audio,
    parse_text,
)
from vasa.serve.uploads import MAX_IMAGE_BYTES, PortraitStore, UploadError, decode_image
from vasa.timebase import MOTION_FPS as FPS

log = logging.getLogger("vasa.serve")
ASSETS = resources.files("vasa") / "assets"
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/capture-worklet.js": ("capture-worklet.js", "text/javascript; charset=utf-8")}
MAX_NOTICES = 16  # error answers waiting to be sent
CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
       "connect-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; "
       "frame-ancestors 'none'")


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"  # loopback only unless told otherwise
    port: int = 8000  # 0: any free port (the printed URL has it)
    token: str | None = None  # required from clients when set; required when not loopback
    max_sessions: int = 2  # measured: what an idle 2-core machine holds in real time (README)
    workers: int = 2  # compute threads (one torch thread each): one per core
    jpeg_quality: int = 80  # 512 px frames of 30-40 KB: ~1 MB/s per session
    playout_delay_s: float = PLAYOUT_DELAY_S  # the page's jitter buffer (sent in "ready")
    stall_s: float = 5.0  # a client that takes no frame for this long is dropped
    # A page sends start right after connecting: 5 s is ample, and short enough that sockets
    # which never start are gone before anyone notices (they hold no slot meanwhile).
    start_timeout_s: float = 5.0
    max_peer_connections: int = 8  # WebSockets one client address may hold, started or not
    teardown_s: float = 1.0  # at most this long waiting for an ended session's tasks
    stream: StreamConfig = field(default_factory=StreamConfig)
    live: LiveConfig = field(default_factory=LiveConfig)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_serve_config(cfg: ServeConfig) -> None:
    if not is_loopback(cfg.host) and not cfg.token:
        raise ValueError(f"--host {cfg.host} makes the server reachable from other machines: "
                         "give --token (clients then need it)")
    if not 0 <= cfg.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {cfg.port}")
    for name, value, lo, hi in [("--max-sessions", cfg.max_sessions, 1, 64),
                                ("--workers", cfg.workers, 1, 64),
                                ("--jpeg-quality", cfg.jpeg_quality, 10, 100),
                                ("--playout-delay", cfg.playout_delay_s, 0.0, 2.0),
                                ("start timeout", cfg.start_timeout_s, 0.01, 300.0),
                                ("max peer connections", cfg.max_peer_connections, 1, 1024)]:
        if not lo <= value <= hi:
            raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")


@dataclass
class ServeParts:
    """What every session shares, loaded once: read-only model, extractor, basis; the bundled
    portrait and speech (16 kHz WAV bytes)."""

    model: MotionModel
    extractor: AudioFeatureExtractor
    basis: FaceBasis
    portrait: Portrait
    speech_wav: bytes


def load_parts(model_path: str | os.PathLike = DEFAULT_MODEL, size: int = 512,
               crop: bool = False) -> ServeParts:
    import soundfile

    from vasa.io import load_audio
    from vasa.portrait import load_portrait

    basis = default_basis()
    extractor = get_extractor()
    model = load_model(model_path, extractor.spec.id, basis.version)
    portrait = load_portrait(ASSETS / "astronaut.jpg", size, None, basis, framed=not crop)
    buf = io.BytesIO()
    soundfile.write(buf, load_audio(ASSETS / "obama_address_8s.mp4", SAMPLE_RATE), SAMPLE_RATE,
                    format="WAV", subtype="PCM_16")
    return ServeParts(model, extractor, basis, portrait, buf.getvalue())


def warm_up(parts: ServeParts, stream: StreamConfig) -> None:
    """One short stream, so the first session does not pay for first-call setup."""
    s = StreamSession(parts.model, parts.extractor, parts.portrait, parts.basis, stream)
    s.push_silence(0.3)
    s.flush()


@dataclass
class _Encoded:
    """A frame ready for the wire (encoded in a worker thread)."""

    index: int
    time: float
    arrival: float
    audio: bytes
    jpeg: bytes


class Server:
    def __init__(self, cfg: ServeConfig, parts: ServeParts) -> None:
        check_serve_config(cfg)
        self.cfg, self.parts = cfg, parts
        self.compute = ThreadPoolExecutor(cfg.workers, thread_name_prefix="vasa-compute")
        self.upload_pool = ThreadPoolExecutor(1, thread_name_prefix="vasa-upload")
        self.portraits = PortraitStore(capacity=max(16, 2 * cfg.max_sessions))
        self.sessions: dict[str, dict[str, Any]] = {}  # started sessions: what max_sessions counts
        self.peers: dict[str, int] = {}  # open WebSockets per client address
        self.sockets: set[web.WebSocketResponse] = set()  # every open WebSocket, for shutdown
        self._ending: set[asyncio.Task] = set()  # ended sessions' tasks not finished yet
        self.uploads_pending = 0
        self.static = {route: ((resources.files("vasa.serve") / "static" / name).read_bytes(),
                               ctype) for route, (name, ctype) in STATIC.items()}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_IMAGE_BYTES)
        for route in self.static:
            app.router.add_get(route, self._static)
        app.router.add_get("/favicon.ico", self._no_content)
        app.router.add_get("/api/health", self._health)
        app.router.add_get("/api/speech.wav", self._speech)
        app.router.add_post("/api/portrait", self._upload)
        app.router.add_get("/ws", self._websocket)
        app.on_shutdown.append(self._shutdown)
        return app

    # ---- HTTP ---------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        if request.path.startswith("/api/") or request.path == "/ws":
            if self.cfg.token and not self._token_ok(request):
                return web.json_response({"error": "missing or wrong access token"}, status=401)
            if not self._host_ok(request.host):
                return web.json_response({"error": f"unexpected Host {request.host!r}: use "
                                          "the address the server printed"}, status=403)
            origin = request.headers.get("Origin")
            # A page from another site in the user's browser must not drive this server.
            if origin and urlsplit(origin).netloc != request.host:
                return web.json_response({"error": f"cross-origin request from {origin}"},
                                         status=403)
        resp = await handler(request)
        if not resp.prepared:
            resp.headers["X-Content-Type-Options"] = "nosniff"
            resp.headers["Referrer-Policy"] = "no-referrer"
            resp.headers["Cache-Control"] = "no-store"
            if resp.content_type == "text/html":
                resp.headers["Content-Security-Policy"] = CSP
        return resp

    def _host_ok(self, host: str) -> bool:
        """DNS rebinding: a page on attacker.example that re-points its name at 127.0.0.1
        reaches this server with Host (and Origin) attacker.example, so the Origin check alone
        passes. Only the names this server is reached by are accepted: the loopback names and
        the bound address. A server bound to every address (0.0.0.0, ::) has a token, which a
        rebinding page cannot know, so any name is accepted there."""
        if self.cfg.host in ("0.0.0.0", "::", ""):
            return True
        try:
            name = urlsplit(f"//{host}").hostname
        except ValueError:  # a malformed Host (bad port, unbalanced brackets)
            return False
        bound = self.cfg.host.strip("[]").lower()
        return name is not None and name in {"localhost", "127.0.0.1", "::1", bound}

    def _token_ok(self, request: web.Request) -> bool:
        given = request.query.get("token", "")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[7:]
        return hmac.compare_digest(given.encode(), (self.cfg.token or "").encode())

    async def _static(self, request: web.Request) -> web.Response:
        body, ctype = self.static[request.path]
        return web.Response(body=body, headers={"Content-Type": ctype})

    async def _no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _speech(self, request: web.Request) -> web.Response:
        return web.Response(body=self.parts.speech_wav, content_type="audio/wav")

    async def _health(self, request: web.Request) -> web.Response:
        s = self.cfg.stream
        return web.json_response({
            "protocol": PROTOCOL_VERSION, "sessions": len(self.sessions),
            "connections": len(self.sockets),
            "max_sessions": self.cfg.max_sessions, "rss_mb": rss_mb(), "hop": s.hop,
            "lookahead": s.lookahead, "steps": s.controls.steps,
            "portraits": len(self.portraits)})

    async def _upload(self, request: web.Request) -> web.Response:
        if self.uploads_pending >= 2:
            return web.json_response({"error": "busy encoding other portraits; try again"},
                                     status=503)
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": f"image over {MAX_IMAGE_BYTES} bytes"},
                                     status=413)
        self.uploads_pending += 1
        try:
            portrait = await asyncio.get_running_loop().run_in_executor(
                self.upload_pool, self._encode_portrait, data)
            key = self.portraits.add(portrait)
        except UploadError as err:
            return web.json_response({"error": str(err)}, status=err.status)
        except ValueError as err:  # no face, face too small or turned away: the user's image
            return web.json_response({"error": str(err)}, status=422)
        finally:
            self.uploads_pending -= 1
        return web.json_response({"portrait": key})

    def _encode_portrait(self, data: bytes) -> Portrait:
        return make_portrait(decode_image(data), "upload", self.cfg.stream.size, None,
                             self.parts.basis, framed=not self.cfg.stream.crop)

    async def _shutdown(self, app: web.Application) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server shutting down")

    # ---- one session ----------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        peer = request.remote or "unknown"
        if self.peers.get(peer, 0) >= self.cfg.max_peer_connections:
            return web.json_response({"error": f"too many connections from {peer}: at most "
                                      f"{self.cfg.max_peer_connections}"}, status=429)
        # compress=False: frames are JPEG already; deflating them costs CPU and saves nothing.
        ws = web.WebSocketResponse(max_msg_size=MAX_AUDIO_BYTES + 1024, compress=False)
        self.peers[peer] = self.peers.get(peer, 0) + 1
        self.sockets.add(ws)
        sid = secrets.token_hex(4)
        held: list[str] = []  # the portrait id this session holds

        def free() -> None:
            """Give the slot and the portrait back: at once, once, whatever the tasks still do."""
            self.sessions.pop(sid, None)
            while held:
                key = held.pop()
                if key != "bundled":
                    self.portraits.release(key)

        try:
            await ws.prepare(request)
            session = await self._await_start(ws, sid, held)
            if session is not None:
                await self._run(ws, request, sid, session, free)
        finally:
            free()
            self.sockets.discard(ws)
            self.peers[peer] -= 1
            if not self.peers[peer]:
                del self.peers[peer]
            if ws.prepared and not ws.closed:
                try:
                    async with asyncio.timeout(1.0):
                        await ws.close()
                except TimeoutError:
                    _abort(request)
        return ws

    async def _error(self, ws: web.WebSocketResponse, err: ProtocolError) -> None:
        await ws.send_json({"type": "error", "code": err.code, "message": str(err)})

    async def _await_start(self, ws: web.WebSocketResponse, sid: str, held: list[str]
                           ) -> StreamSession | None:
        """Read messages until a valid start; errors are answered and the client may retry.
        The slot is taken here, by the start: a socket that never starts holds none."""
        deadline = time.monotonic() + self.cfg.start_timeout_s
        while True:
            try:
                msg = await ws.receive(timeout=max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                await self._error(ws, ProtocolError(
                    "timeout", f"no start message within {self.cfg.start_timeout_s:g} s"))
                return None
            if msg.type != WSMsgType.TEXT and msg.type != WSMsgType.BINARY:
                return None  # closed, closing or a transport error
            try:
                if msg.type == WSMsgType.BINARY:
                    raise ProtocolError("not_started", "send a start message before audio")
                start = parse_text(msg.data)
                if not isinstance(start, Start):
                    raise ProtocolError("not_started", "send a start message before controls")
                n = len(self.sessions)
                if n >= self.cfg.max_sessions:
                    await ws.send_json({"type": "busy", "message": f"server busy: {n} of "
                                        f"{self.cfg.max_sessions} sessions in use; try again "
                                        "later"})
                    await ws.close(code=BUSY_CLOSE_CODE, message=b"busy")
                    return None
                # Taken before the first await, so concurrent starts cannot overbook.
                self.sessions[sid] = {"ws": ws, "started": time.monotonic()}
                key, session = await self._open(start)
                held.append(key)
                return session
            except ProtocolError as err:
                self.sessions.pop(sid, None)
                await self._error(ws, err)

    async def _open(self, start: Start) -> tuple[str, StreamSession]:
        if start.portrait == "bundled":
            portrait = self.parts.portrait
        else:
            try:
                portrait = self.portraits.acquire(start.portrait)
            except KeyError:
                raise ProtocolError("unknown_portrait", "unknown or expired portrait id: "
                                    "upload it again (POST /api/portrait)") from None
        try:
            base = replace(self.cfg.stream.controls, seed=start.seed)
            controls = apply_controls(base, start.controls or ControlUpdate())
            stream = replace(self.cfg.stream, controls=controls)
            session = await asyncio.get_running_loop().run_in_executor(
                self.compute, lambda: StreamSession(self.parts.model, self.parts.extractor,
                                                    portrait, self.parts.basis, stream))
        except BaseException:
            if start.portrait != "bundled":
                self.portraits.release(start.portrait)
            raise
        return start.portrait, session

    async def _run(self, ws: web.WebSocketResponse, request: web.Request, sid: str,
                   session: StreamSession, free: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()

        def runner(job):  # submitted at the call, not at the first await (`LiveStream.run`)
            return loop.run_in_executor(self.compute, job)

        live = LiveStream(session, self.cfg.live, runner, self._encode)
        s = self.cfg.stream
        height, width = session.portrait.output_shape
        await ws.send_json({
            "type": "ready", "session": sid, "protocol": PROTOCOL_VERSION, "fps": FPS,
            "sample_rate": SAMPLE_RATE, "size": s.size, "width": width, "height": height,
            "hop": s.hop, "lookahead": s.lookahead,
            "steps": session.controls.steps, "latency_s": session.latency_s,
            "playout_delay_s": self.cfg.playout_delay_s, "max_ahead_s": self.cfg.live.max_ahead_s})
        notices: list[dict] = []
        producer = asyncio.create_task(live.run())
        sender = asyncio.create_task(self._send(ws, request, live, notices))
        for task in (producer, sender):  # either ending ends the session
            task.add_done_callback(lambda t: _stop(t, live, request))
        log.info("session %s started", sid)
        try:
            await self._receive(ws, live, session, notices)
        finally:
            live.close()  # both tasks return at their next wait, cancelled or not
            free()
            tasks = (producer, sender)
            for task in tasks:
                task.cancel()
            # Bounded: a compute job already in a worker cannot be interrupted, and nothing may
            # keep this handler (and its socket) waiting for good. Stragglers end on their own.
            _done, pending = await asyncio.wait(tasks, timeout=self.cfg.teardown_s)
            for task in pending:
                log.warning("session %s: a task still running %.1f s after the end",
                            sid, self.cfg.teardown_s)
                self._ending.add(task)  # a reference, so it is not collected while pending
                task.add_done_callback(self._ending.discard)
            log.info("session %s ended after %.1f s: %.1f s speech, %.1f s idle", sid,
                     live.now(), live.speech_samples / SAMPLE_RATE,
                     live.idle_samples / SAMPLE_RATE)

    async def _receive(self, ws: web.WebSocketResponse, live: LiveStream,
                       session: StreamSession, notices: list[dict]) -> None:
        while not live.closed:
            msg = await ws.receive()
            try:
                if msg.type == WSMsgType.BINARY:
                    await live.put_audio(parse_audio(msg.data))  # waits when far ahead
                elif msg.type == WSMsgType.TEXT:
                    update = parse_text(msg.data)
                    if isinstance(update, Start):
                        raise ProtocolError("bad_message", "the session has started already")
                    session.set_controls(apply_controls(session.controls, update))
                else:
                    return  # closed by the client, or the connection broke
            except ProtocolError as err:
                if len(notices) < MAX_NOTICES:  # a flood of bad messages cannot grow memory
                    notices.append({"type": "error", "code": err.code, "message": str(err)})

    def _encode(self, f: StreamFrame) -> _Encoded:
        bgr = cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.cfg.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        arrival = -1.0 if f.stamp is None else float(f.stamp)
        return _Encoded(f.index, f.time, arrival, audio_bytes(f.audio), jpeg.tobytes())

    async def _send(self, ws: web.WebSocketResponse, request: web.Request, live: LiveStream,
                    notices: list[dict]) -> None:
        """The one writer of this socket: frames in order, then any error notices. Frames come
        at least once a window (idle silence fills gaps), so a notice waits at most that long."""
        while True:
            while notices:
                async with asyncio.timeout(self.cfg.stall_s):
                    await ws.send_json(notices.pop(0))
            f = await live.get_frame()
            if f is None:
                return  # the stream is closed
            msg = pack_frame(f.index, f.time, f.arrival, live.now(), f.audio, f.jpeg)
            try:
                async with asyncio.timeout(self.cfg.stall_s):
                    await ws.send_bytes(msg)
            except TimeoutError:
                log.warning("dropping a client that read no frame for %.0f s", self.cfg.stall_s)
                raise


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _stop(task: asyncio.Task, live: LiveStream, request: web.Request) -> None:
    """A producer or sender ended (a stalled client, a closed socket, a bug): end the session
    now, so its receive loop and its slot are freed at once."""
    live.close()
    if not task.cancelled() and task.exception() is not None:
        err = task.exception()
        if not isinstance(err, (TimeoutError, ConnectionError)):
            log.error("session failed: %r", err)
        _abort(request)


async def serve(cfg: ServeConfig, parts: ServeParts, on_ready=None) -> None:
    """Run until cancelled. on_ready(url) once listening (port 0: the real port)."""
    server = Server(cfg, parts)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, cfg.host, cfg.port)
        await site.start()
        port = runner.addresses[0][1]
        host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        url = f"http://{host}:{port}/" + (f"?token={cfg.token}" if cfg.token else "")
        if on_ready:
            on_ready(url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        server.compute.shutdown(wait=False, cancel_futures=True)
        server.upload_pool.shutdown(wait=False, cancel_futures=True)


def run_server(cfg: ServeConfig, model_path: str | os.PathLike = DEFAULT_MODEL) -> None:
    """The `vasa serve` command: load, warm up, print the address, serve until Ctrl+C."""
    import torch

    torch.set_num_threads(1)  # tiny networks: one thread per worker is fastest (README)
    check_serve_config(cfg)
    parts = load_parts(model_path, cfg.stream.size, cfg.stream.crop)
    warm_up(parts, cfg.stream)

    def ready(url: str) -> None:
        print(f"vasa serve: open {url} (Ctrl+C to stop)", flush=True)

    try:
        asyncio.run(serve(cfg, parts, ready))
    except KeyboardInterrupt:
        pass


__all__ = ["ServeConfig", "ServeParts", "Server", "check_serve_config", "load_parts",
           "run_server", "serve", "warm_up"]
