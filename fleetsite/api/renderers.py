"""The REST API's JSON renderer: orjson, with DRF's encoder for the types orjson does not know.

Every answer carries Fleet 4.8's second names beside the old ones (`fleet_id` beside
`team_id`, see `aliases.with_new_names`), as Fleet 4.8 answers.

Why: the standard library encoder behind DRF's JSONRenderer was a sixth of the CPU of a
100-host `GET /hosts` page; orjson writes the same page in a tenth of the time. Output is
the same compact UTF-8 JSON, with timestamps in RFC 3339 and `Z` for UTC.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer
from rest_framework.utils.encoders import JSONEncoder

from fleetsite.api.aliases import with_new_names

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
# Lazy translations, Decimals, querysets, generators...: what DRF's own renderer accepts.
_fallback = JSONEncoder().default


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        response = renderer_context.get("response") if renderer_context else None
        if not getattr(response, "fleet_names_written", False):
            data = with_new_names(data)
        return orjson.dumps(data, default=_fallback, option=_OPTIONS)
