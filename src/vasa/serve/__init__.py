"""Real time: the streaming API (`StreamSession`), live pacing (`LiveStream`) and the
`vasa serve` web server (`vasa.serve.server`, imported on its own: it needs aiohttp)."""

from __future__ import annotations

from vasa.serve.live import LiveConfig, LiveStream
from vasa.serve.session import StreamConfig, StreamFrame, StreamSession, open_session

__all__ = ["LiveConfig", "LiveStream", "StreamConfig", "StreamFrame", "StreamSession",
           "open_session"]
