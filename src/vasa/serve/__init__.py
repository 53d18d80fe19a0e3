"""`vasa serve`: live pacing (`LiveStream`), the wire protocol and the web server
(`vasa.serve.server`, imported on its own: it needs aiohttp). The streaming API it runs for each
browser is `vasa.pipelines.stream.StreamSession`."""

from __future__ import annotations

from vasa.serve.live import LiveConfig, LiveStream

__all__ = ["LiveConfig", "LiveStream"]
