"""Helpers for testing code that uses ``lightsail_images``.

``set_testing(True)`` turns the client's retry backoff sleeps off, so tests of
retry paths run instantly::

    from lightsail_images.testing import set_testing

    set_testing(True)

:class:`FakeLightsail` is an in-process fake of Lightsail's container-image
API: real HTTP on loopback (``fake.serve()``) or no socket at all through the
``responses`` library (``fake.mock()``), with SigV4 checks, request recording
and fault injection::

    from lightsail_images.testing import FakeLightsail

    fake = FakeLightsail()
    fake.add_container_service("my-svc")
    fake.faults.fail(times=1, status=503, error_type="ServiceUnavailable")
    with fake.serve() as url:
        ...  # point boto3 or lightsail_images.Client at url
"""

from lightsail_images._public import present_as_public as _present_as_public
from lightsail_images._retry import is_testing, set_testing
from lightsail_images.testing._fake import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_SECRET_ACCESS_KEY,
    FakeLightsail,
    FakeResponse,
    RecordedRequest,
)
from lightsail_images.testing._faults import Fault, FaultKind, Faults
from lightsail_images.testing._model import ContainerServiceInfo, Deployment, DeploymentRule

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_SECRET_ACCESS_KEY",
    "ContainerServiceInfo",
    "Deployment",
    "DeploymentRule",
    "FakeLightsail",
    "FakeResponse",
    "Fault",
    "FaultKind",
    "Faults",
    "RecordedRequest",
    "is_testing",
    "set_testing",
]


# Public classes say lightsail_images...X in tracebacks and reprs (see _public.py).
_present_as_public(globals(), __name__, __all__)
