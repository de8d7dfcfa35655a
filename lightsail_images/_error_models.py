"""The members of a Lightsail error body.

A frozen attrs class like those of ``_models.py``, loaded when the first
error response is parsed: a call that succeeds never builds it.  Importable
from ``lightsail_images`` (and from ``_models``) as if it were defined there.
"""

from __future__ import annotations

import attrs

from lightsail_images._public import present_when_loaded

__all__ = ["ErrorDetails"]


@attrs.frozen
class ErrorDetails:
    """The members of a Lightsail error body.

    Lightsail errors carry its own sub-code (for example ``"DoesNotExist"``), a
    message, a documentation link and a tip on what to do.  Any of them may be
    missing, so each is ``str | None``.
    """

    code: str | None = None
    docs: str | None = None
    message: str | None = None
    tip: str | None = None


present_when_loaded(globals())
