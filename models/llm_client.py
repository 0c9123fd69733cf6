"""The one place that imports litellm, with its price table loaded from the package.

litellm fetches a model price map from the internet on import unless
``LITELLM_LOCAL_MODEL_COST_MAP`` is set; Baton machines may be offline, so the bundled map is
always used. Import ``litellm`` through this module only.
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

litellm.telemetry = False
litellm.suppress_debug_info = True
# litellm logs request bodies (prompts) at DEBUG; keep them out of Baton's logs.
for _name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "openai"):
    logging.getLogger(_name).setLevel(logging.WARNING)

__all__ = ["litellm"]
