"""The injected clock, as the application names it; it lives in base.clock, below the layers."""

from __future__ import annotations

from base.clock import Clock, fixed_clock, system_clock

__all__ = ["Clock", "fixed_clock", "system_clock"]
