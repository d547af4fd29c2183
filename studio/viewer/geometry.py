"""Zoom and pan of the viewer: where the content rectangle sits in the widget (pure, in pixels)."""

from __future__ import annotations

from dataclasses import dataclass, replace

MIN_SCALE, MAX_SCALE = 1 / 32, 32.0


@dataclass(frozen=True)
class Zoom:
    """Fit-to-window, or a scale (content pixel → widget pixels) with a pan offset from the centre."""

    fit: bool = True
    scale: float = 1.0
    pan: tuple[float, float] = (0.0, 0.0)

    def effective_scale(self, widget: tuple[float, float], content: tuple[float, float]) -> float:
        """Widget pixels per content pixel."""
        if self.fit:
            return min(widget[0] / max(content[0], 1), widget[1] / max(content[1], 1))
        return self.scale

    def rect(self, widget: tuple[float, float], content: tuple[float, float]) -> tuple[float, float, float, float]:
        """(x, y, w, h) of the content in widget pixels, y down."""
        s = self.effective_scale(widget, content)
        w, h = content[0] * s, content[1] * s
        pan = (0.0, 0.0) if self.fit else self.pan
        return ((widget[0] - w) / 2 + pan[0], (widget[1] - h) / 2 + pan[1], w, h)

    def one_to_one(self) -> Zoom:
        return Zoom(fit=False, scale=1.0)

    def fitted(self) -> Zoom:
        return Zoom()

    def zoomed(self, factor: float, anchor: tuple[float, float], widget: tuple[float, float],
               content: tuple[float, float]) -> Zoom:
        """Zoom by `factor` keeping the content point under `anchor` (widget pixels) in place."""
        s0 = self.effective_scale(widget, content)
        s1 = min(max(s0 * factor, MIN_SCALE), MAX_SCALE)
        x, y, _, _ = self.rect(widget, content)
        # content point under the anchor stays put: anchor = new_origin + p * s1
        px, py = (anchor[0] - x) / s0, (anchor[1] - y) / s0
        new_x, new_y = anchor[0] - px * s1, anchor[1] - py * s1
        centred = ((widget[0] - content[0] * s1) / 2, (widget[1] - content[1] * s1) / 2)
        return Zoom(fit=False, scale=s1, pan=(new_x - centred[0], new_y - centred[1]))

    def panned(self, dx: float, dy: float, widget: tuple[float, float], content: tuple[float, float]) -> Zoom:
        """Move the content by (dx, dy) widget pixels (leaves fit mode at the current scale)."""
        base = self if not self.fit else Zoom(False, self.effective_scale(widget, content))
        return replace(base, pan=(base.pan[0] + dx, base.pan[1] + dy))

    def content_point(self, widget_point: tuple[float, float], widget: tuple[float, float],
                      content: tuple[float, float]) -> tuple[float, float]:
        """The content pixel (x, y) under a widget point (may lie outside the content)."""
        x, y, w, h = self.rect(widget, content)
        return ((widget_point[0] - x) * content[0] / max(w, 1e-9), (widget_point[1] - y) * content[1] / max(h, 1e-9))
