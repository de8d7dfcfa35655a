"""The signer's headers are botocore's own, whatever the request (property tests).

``Signer.sign`` runs botocore's ``SigV4Auth`` steps on a light request whose
headers live in ``_signing._Headers`` instead of botocore's ``HTTPHeaders``
(an ``email.message.Message``, slow to consult).  Two proofs that nothing
changes:

- ``_Headers`` answers every operation ``SigV4Auth`` uses exactly as
  ``HTTPHeaders`` does, for any sequence of them on names that differ only
  in case;
- every header ``Signer.sign`` returns is the one botocore's unmodified
  ``SigV4Auth.add_auth`` sets on a real ``AWSRequest`` (``Authorization``,
  ``X-Amz-Date``, ``Date``, ``X-Amz-Security-Token`` and the request's own), for
  any header names, cases and values, session token or none, body, URL
  (scheme, host, port, path, query) and clock.
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Any

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from hypothesis import given
from hypothesis import strategies as st

from lightsail_images import _config, _signing
from lightsail_images._protocol import HttpRequest

# Names SigV4Auth treats specially, names it never signs, and names that
# differ only in case, so that collisions and deletions are exercised.
SPECIAL = [
    "Authorization",
    "authorization",
    "Date",
    "X-Amz-Date",
    "x-amz-date",
    "X-Amz-Security-Token",
    "X-Amz-Content-SHA256",
    "Content-Type",
    "content-type",
    "X-Amz-Target",
    "User-Agent",
    "Expect",
    "Connection",
    "X-Amzn-Trace-Id",
    "traceparent",
    "A",
    "a",
]
names = st.one_of(
    st.sampled_from(SPECIAL),
    st.text("abcXYZ-_0129", min_size=1, max_size=8),
)
# What an HTTP header can carry (http.client refuses the rest): printable
# ASCII, with spaces and tabs anywhere, runs of them included.
values = st.text(st.characters(min_codepoint=32, max_codepoint=126) | st.just("\t"), max_size=20)
printable = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)

hosts = st.one_of(
    st.sampled_from(
        ["lightsail.us-east-1.amazonaws.com", "LightSail.Example.COM", "127.0.0.1", "[::1]"]
    ),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=20).filter(
        lambda h: h.strip(".") == h and ".." not in h
    ),
)
ports = st.one_of(st.none(), st.sampled_from([80, 443, 8080, 1]), st.integers(1, 65535))
paths = st.text("abcAZ09-._~/%!$&'()*+,;=:@ ", max_size=24).map(
    lambda p: "/" + p.replace(" ", "%20")
)
queries = st.one_of(
    st.just(""),
    st.lists(
        st.tuples(st.text("abAZ09-_.~%", max_size=5), st.text("abAZ09-_.~%=", max_size=5)),
        max_size=4,
    ).map(lambda pairs: "?" + "&".join(f"{k}={v}" for k, v in pairs)),
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https", "http"]))
    port = draw(ports)
    netloc = draw(hosts) + ("" if port is None else f":{port}")
    return f"{scheme}://{netloc}{draw(paths)}{draw(queries)}"


clocks = st.datetimes(
    # Naive bounds, as hypothesis wants them; the values are made UTC.
    min_value=dt.datetime(1971, 1, 1),  # noqa: DTZ001
    max_value=dt.datetime(2099, 12, 31),  # noqa: DTZ001
).map(lambda when: when.replace(tzinfo=dt.timezone.utc))


def botocore_clock(when: dt.datetime) -> tuple[str, object]:
    """The attribute of ``botocore.auth`` to set, and its value, to make ``when`` its clock.

    botocore 1.32 and later ask ``get_current_datetime()``; earlier ones
    ``datetime.datetime.utcnow()`` (pyproject.toml allows botocore 1.31).
    """
    naive = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if hasattr(botocore.auth, "get_current_datetime"):
        return "get_current_datetime", lambda: naive
    frozen = type("FrozenDatetime", (dt.datetime,), {"utcnow": staticmethod(lambda: naive)})
    return "datetime", types.SimpleNamespace(datetime=frozen)


def botocore_headers(
    request: HttpRequest, credentials: _signing.FrozenCredentials, region: str, when: dt.datetime
) -> dict[str, str]:
    """What botocore's own SigV4Auth.add_auth sets on a real AWSRequest."""
    aws_request = AWSRequest(
        method=request.method, url=request.url, headers=dict(request.headers), data=request.body
    )
    auth = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(*credentials), "lightsail", region
    )
    name, clock = botocore_clock(when)
    original = getattr(botocore.auth, name)
    setattr(botocore.auth, name, clock)
    try:
        auth.add_auth(aws_request)
    finally:
        setattr(botocore.auth, name, original)
    return dict(aws_request.headers.items())


def signer_for(credentials: _signing.FrozenCredentials, region: str, when: dt.datetime) -> Any:
    source = _signing.CredentialSource(
        explicit=credentials,
        sessions=_config.SessionSource(botocore_session=None, profile_name=None),
    )
    return _signing.Signer(source, region, clock=lambda: when)


@given(
    headers=st.dictionaries(names.filter(lambda name: name.lower() != "host"), values, max_size=8),
    access=printable,
    secret=printable,
    token=st.one_of(st.none(), printable),
    body=st.binary(max_size=64),
    url=urls(),
    method=st.sampled_from(["POST", "GET", "put"]),
    region=st.sampled_from(["us-east-1", "eu-west-2", "ap-southeast-2"]),
    when=clocks,
)
def test_every_header_is_botocores(
    *,
    headers: dict[str, str],
    access: str,
    secret: str,
    token: str | None,
    body: bytes,
    url: str,
    method: str,
    region: str,
    when: dt.datetime,
) -> None:
    request = HttpRequest(method=method, url=url, headers=headers, body=body)
    credentials = _signing.FrozenCredentials(access, secret, token)
    signer = signer_for(credentials, region, when)
    expected = botocore_headers(request, credentials, region, when)
    assert signer.sign(request, {}) == expected
    # Twice: the kept signing key and Host value give the same answer.
    assert signer.sign(request, {}) == expected


def test_extra_headers_are_added_after_signing() -> None:
    when = dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.timezone.utc)
    credentials = _signing.FrozenCredentials("AKIDORACLE", "oracle-secret", None)
    request = HttpRequest(
        method="POST", url="https://lightsail.us-east-1.amazonaws.com/", headers={}, body=b"{}"
    )
    signed = signer_for(credentials, "us-east-1", when).sign(request, {"User-Agent": "ua/1"})
    expected = botocore_headers(request, credentials, "us-east-1", when)
    assert signed == {**expected, "User-Agent": "ua/1"}
    assert "user-agent" not in expected["Authorization"]


# --- _Headers behaves as HTTPHeaders for every operation SigV4Auth uses -------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), names, values),
        st.tuples(st.just("del"), names),
        st.tuples(st.just("contains"), names),
        st.tuples(st.just("getitem"), names),
        st.tuples(st.just("get_all"), names),
    ),
    max_size=30,
)


@given(initial=st.lists(st.tuples(names, values), max_size=6), ops=operations)
def test_the_header_map_answers_as_botocores(
    initial: list[tuple[str, str]], ops: list[tuple[str, ...]]
) -> None:
    ours = _signing._Headers(initial)
    theirs = HTTPHeaders()
    for name, value in initial:
        theirs[name] = value
    for op in ops:
        kind, name = op[0], op[1]
        if kind == "set":
            ours[name] = op[2]
            theirs[name] = op[2]
        elif kind == "del":
            del ours[name]
            del theirs[name]
        elif kind == "contains":
            assert (name in ours) == (name in theirs)
        elif kind == "getitem":
            assert ours[name] == theirs[name]
            assert ours.get(name) == theirs.get(name)
        else:
            assert ours.get_all(name) == theirs.get_all(name)
            assert ours.get_all(name, []) == theirs.get_all(name, [])
        assert ours.items() == theirs.items()
        assert ours.keys() == theirs.keys()
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)
