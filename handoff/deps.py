"""FastAPI dependencies of the handoff routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from handoff.config import HandoffSettings, get_handoff_settings

HandoffSettingsDep = Annotated[HandoffSettings, Depends(get_handoff_settings)]
"""The handoff settings of this process (see :func:`handoff.config.get_handoff_settings`)."""
