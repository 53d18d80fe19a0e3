"""The renderer: portrait + motion latents -> frames."""

from vasa.render.renderer import RenderConfig, Renderer

__all__ = ["RenderConfig", "Renderer"]
