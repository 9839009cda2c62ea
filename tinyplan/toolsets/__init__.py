"""Ready-made toolsets. `tinyplan.toolsets.mac` is TinyAgent's 16-tool Mac assistant."""

from __future__ import annotations

from tinyplan.toolsets.mac import mac_toolset

__all__ = ["mac_toolset"]
