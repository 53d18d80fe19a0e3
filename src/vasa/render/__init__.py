"""The renderer: portrait + motion latents -> frames.

`Renderer` and `RenderConfig` are loaded on first use, so that the light parts of this package
(the mouth crop geometry the refiner's trainer shares) import without the face tracker."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vasa.render.renderer import RenderConfig, Renderer, render_frames

__all__ = ["RenderConfig", "Renderer", "render_frames"]


def __getattr__(name: str):
    if name in __all__:
        from vasa.render import renderer

        return getattr(renderer, name)
    raise AttributeError(f"module 'vasa.render' has no attribute {name!r}")
