"""The ``responses`` shell: serve a FakeLightsail to ``requests`` without a socket.

Requests to the endpoint are handed to :meth:`FakeLightsail.handle`, exactly as
the socket server does.  ``requests`` leaves the ``Host`` header to the
connection layer, which ``responses`` replaces, so it is rebuilt here from the
URL (the client signed it).  A dropped connection becomes
``requests.exceptions.ConnectionError``; a delay is a plain sleep, since no
read timeout applies without a socket.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
import responses

if TYPE_CHECKING:
    from lightsail_images.testing._fake import FakeLightsail

__all__ = ["mock"]

_METHODS = ("POST", "GET", "PUT", "DELETE", "PATCH")


@contextlib.contextmanager
def mock(
    fake: FakeLightsail,
    *,
    url: str,
    requests_mock: responses.RequestsMock | None,
) -> Generator[str, None, None]:
    """Route ``requests`` calls for ``url`` to ``fake``; yield ``url``."""
    endpoint = url.rstrip("/")
    pattern = re.compile(re.escape(endpoint) + r"(/.*)?")

    def answer(
        request: requests.PreparedRequest,
    ) -> tuple[int, Mapping[str, str], bytes] | Exception:
        split = urlsplit(request.url or "")
        headers = list(request.headers.items())
        if not any(name.lower() == "host" for name, _ in headers):
            headers.append(("Host", split.netloc))
        raw = request.body or b""
        body = raw.encode("utf-8") if isinstance(raw, str) else raw
        response = fake.handle(request.method or "GET", request.path_url, headers, body)
        if response.delay:
            time.sleep(response.delay)
        if response.drop:
            return requests.exceptions.ConnectionError(
                "FakeLightsail dropped the connection without answering (injected fault)",
                request=request,
            )
        return response.status_code, dict(response.headers), response.body

    owned = requests_mock is None
    active = (
        responses.RequestsMock(assert_all_requests_are_fired=False)
        if requests_mock is None
        else requests_mock
    )
    added = [active.add_callback(method, pattern, answer, content_type=None) for method in _METHODS]
    if owned:
        active.start()
    try:
        yield endpoint
    finally:
        if owned:
            active.stop()
            active.reset()
        else:
            for route in added:
                active.remove(route)
