"""The fast paths behave as the slow ones did (docs/performance.md says why they exist).

- Profile settings are read with botocore's file loader instead of a botocore
  Session: the answers must be the Session's own.
- Our own requests session sends straight through its adapter, with the
  environment read once per URL: proxies still apply, ``~/.netrc`` never
  replaces the signature.
- The signer keeps the SigV4 signing key and the Host value: signatures must
  stay botocore's, across dates and rotated secrets.
- Our adapter keeps its per-URL answers (bounded) and no cookies; the
  deadline watchdog keeps only the requests in flight, and a request with
  an earlier deadline than those still wakes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import pathlib
import threading
import time

import botocore.session
import pytest
import requests.adapters
import requests.utils
import responses
import urllib3.poolmanager

import lightsail_images as li
from lightsail_images import _config, _signing, _transport
from lightsail_images._config import ConfigurationError
from lightsail_images._operations import REGISTER_CONTAINER_IMAGE
from lightsail_images._protocol import build_request
from tests.scripted_server import Reply, scripted_server
from tests.test_push_hostile import SLOW_BODY, trickling_server
from tests.test_push_hostile import TIMEOUT as TRICKLE_TIMEOUT
from tests.test_signing_oracle import botocore_headers

# requests 2.32.2 and later: the adapter's documented hooks for the pool
# lookup.  Before, requests never calls them and looks the pool up its own way.
needs_pool_hooks = pytest.mark.skipif(
    not hasattr(requests.adapters.HTTPAdapter, "get_connection_with_tls_context"),
    reason="requests before 2.32.2 has no pool-lookup hooks to override",
)

URL = "https://lightsail.us-east-1.amazonaws.com/"
DIGEST = "sha256:" + "fa" * 32
OK = {"containerImage": {"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1}}
KEYS = {"aws_access_key_id": "AKIDFAST", "aws_secret_access_key": "fast-secret"}


def register(client: li.Client) -> li.RegisterContainerImageResult:
    return client.register_container_image(service_name="svc", label="web", digest=DIGEST)


# --- profile settings without a botocore Session ----------------------------------------

CONFIG = """\
[default]
region = eu-west-1
max_attempts = 4
[profile ops]
region = eu-north-1
endpoint_url = http://ops:1
[profile creds-only]
region = ap-south-1
"""
CREDENTIALS = """\
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = s
max_attempts = 6
[creds-only]
aws_access_key_id = AKIDCREDS
aws_secret_access_key = s
[only-in-credentials]
region = us-west-1
"""


@pytest.fixture
def profiles() -> None:
    import os

    pathlib.Path(os.environ["AWS_CONFIG_FILE"]).write_text(CONFIG)
    pathlib.Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).write_text(CREDENTIALS)


@pytest.mark.parametrize(
    ("profile_name", "env"),
    [
        (None, {}),
        ("ops", {}),
        ("creds-only", {}),
        ("only-in-credentials", {}),
        (None, {"AWS_PROFILE": "ops"}),
        (None, {"AWS_DEFAULT_PROFILE": "creds-only", "AWS_PROFILE": "ops"}),
        ("ops", {"AWS_PROFILE": "creds-only"}),
    ],
)
def test_the_file_reader_answers_as_a_botocore_session_does(
    profiles: None, monkeypatch: pytest.MonkeyPatch, profile_name: str | None, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours = _config._SharedConfig.read(profile_name)
    session = botocore.session.Session(profile=profile_name)
    assert ours.full == session.full_config
    assert ours.scoped() == session.get_scoped_config()


def test_profile_settings_still_apply_without_a_session(
    profiles: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = li.Client(**KEYS)  # type: ignore[arg-type]
    assert (client.region_name, client.max_attempts) == ("eu-west-1", 6)  # credentials file wins
    ops = li.Client(profile_name="ops", **KEYS)  # type: ignore[arg-type]
    assert (ops.region_name, ops.endpoint_url) == ("eu-north-1", "http://ops:1")
    monkeypatch.setenv("AWS_PROFILE", "only-in-credentials")
    assert li.Client(**KEYS).region_name == "us-west-1"  # type: ignore[arg-type]


@pytest.mark.parametrize("with_session", [False, True])
def test_a_bad_max_attempts_in_the_profile_is_a_configuration_error(
    with_session: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    pathlib.Path(os.environ["AWS_CONFIG_FILE"]).write_text("[default]\nmax_attempts = lots\n")
    session = {"botocore_session": botocore.session.Session()} if with_session else {}
    with pytest.raises(ConfigurationError, match="max_attempts"):
        li.Client("us-east-1", endpoint_url=URL, **session, **KEYS)  # type: ignore[arg-type]


# --- the transport: straight to our adapter ----------------------------------------------


@responses.activate
def test_the_environment_is_read_once_per_client(monkeypatch: pytest.MonkeyPatch) -> None:
    responses.post(URL, json=OK)
    reads = 0
    original = requests.utils.get_environ_proxies

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal reads
        reads += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    client = li.Client("us-east-1", **KEYS)  # type: ignore[arg-type]
    for _ in range(3):
        register(client)
    assert reads == 1
    assert len(responses.calls) == 3


@responses.activate
def test_a_netrc_entry_never_replaces_the_signature(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine lightsail.us-east-1.amazonaws.com login user password pass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    responses.post(URL, json=OK)
    register(li.Client("us-east-1", **KEYS))  # type: ignore[arg-type]
    authorization = responses.calls[0].request.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDFAST/")


def test_an_http_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = "http://lightsail.example.invalid/"
    with scripted_server(default=Reply.json(200, OK)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        register(li.Client("us-east-1", endpoint_url=endpoint, **KEYS))  # type: ignore[arg-type]
    (request,) = proxy.requests
    assert request.path == endpoint  # the absolute form: it went through the proxy


@pytest.mark.parametrize(
    "extra", ["x\r\nInjected: 1", "x\r\n folded", "tab\there", "caf\u00e9", "\x00"]
)
def test_a_user_agent_suffix_that_cannot_be_a_header_is_refused_at_once(extra: str) -> None:
    with pytest.raises(ValueError, match="user_agent_extra must be printable ASCII"):
        li.ClientConfig(user_agent_extra=extra)


def test_a_header_http_cannot_carry_is_a_configuration_error_and_never_sent() -> None:
    with (
        scripted_server(default=Reply.json(200, OK)) as server,
        pytest.raises(li.ConfigurationError, match=r"^aws_session_token has a line break"),
    ):
        li.Client(
            "us-east-1",
            endpoint_url=server.url,
            aws_session_token="token\r\nInjected: 1",
            config=li.ClientConfig(max_attempts=1),
            **KEYS,  # type: ignore[arg-type]
        )
    assert server.requests == []


# --- the signer: a kept signing key and Host value ------------------------------------------


def botocore_authorization(
    secret: str, when: dt.datetime, request: li._protocol.HttpRequest, token: str | None
) -> str:
    credentials = _signing.FrozenCredentials("AKIDFAST", secret, token)
    return botocore_headers(request, credentials, "eu-west-2", when)["Authorization"]


@pytest.mark.parametrize(
    "endpoint",
    [URL, "http://127.0.0.1:8080/", "https://LightSail.Example.com:443/", "http://[::1]:9/"],
)
def test_signatures_stay_botocores_across_dates_secrets_and_hosts(endpoint: str) -> None:
    values = {"service_name": "svc", "label": "web", "digest": DIGEST}
    request = build_request(REGISTER_CONTAINER_IMAGE, values, endpoint_url=endpoint)
    now = dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.timezone.utc)
    secret = {"value": "first-secret"}
    source = _signing.CredentialSource(
        explicit=None, sessions=_config.SessionSource(botocore_session=None, profile_name=None)
    )
    source.get = lambda: _signing.FrozenCredentials("AKIDFAST", secret["value"], "tok")  # type: ignore[method-assign]
    signer = _signing.Signer(source, "eu-west-2", clock=lambda: now)
    steps = [
        (now, "first-secret"),
        (now, "first-secret"),  # the kept key
        (now, "rotated-secret"),  # same date, new secret: a new key
        (now + dt.timedelta(seconds=1), "rotated-secret"),  # a new day
    ]
    for when, value in steps:
        secret["value"] = value
        signer._clock = lambda when=when: when  # type: ignore[misc]
        ours = signer.sign(request, {})
        assert "host" not in {name.lower() for name in ours}  # the HTTP library writes it
        assert ours["Authorization"] == botocore_authorization(value, when, request, "tok")


def test_set_cookie_answers_are_read_and_no_cookie_is_ever_sent() -> None:
    # Our adapter does not keep a response's cookies (nor did our session
    # ever send them): the answer is parsed as usual, the next request is bare.
    reply = Reply.json(200, OK, **{"Set-Cookie": "session=abc; Path=/"})
    with scripted_server(reply, reply) as server:
        client = li.Client("us-east-1", endpoint_url=server.url, **KEYS)  # type: ignore[arg-type]
        assert register(client).container_image.digest == DIGEST
        assert register(client).container_image.digest == DIGEST
    assert [r.headers.get("Cookie") for r in server.requests] == [None, None]
    assert [r.path for r in server.requests] == ["/", "/"]


@needs_pool_hooks
def test_the_adapter_remembers_only_a_bounded_number_of_urls() -> None:
    adapter = _transport._DeadlineAdapter()
    for number in range(3 * _transport._MAX_ROUTES):
        request = requests.Request("POST", f"https://registry.example/v2/uploads/{number}")
        prepared = request.prepare()
        assert adapter.request_url(prepared, {}) == f"/v2/uploads/{number}"
        host, pool = adapter.build_connection_pool_key_attributes(prepared, True, None)
        assert host == {"scheme": "https", "host": "registry.example", "port": None}
        assert pool["cert_reqs"] == "CERT_REQUIRED"
        assert len(adapter._memo) <= _transport._MAX_ROUTES
    # Through a proxy the same URL is sent in full: proxies are part of the key.
    plain = requests.Request("POST", "http://lightsail.example/").prepare()
    assert adapter.request_url(plain, {}) == "/"
    assert adapter.request_url(plain, {"http": "http://proxy:3128"}) == "http://lightsail.example/"


@needs_pool_hooks
def test_the_pool_key_is_worked_out_once_per_url(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    original = urllib3.poolmanager.key_fn_by_scheme["http"]

    def counting(context: dict[str, object]) -> object:
        made.append(str(context["host"]))
        return original(context)

    with scripted_server(default=Reply.json(200, OK)) as server:
        client = li.Client("us-east-1", endpoint_url=server.url, **KEYS)  # type: ignore[arg-type]
        adapter = client._transport._adapter
        assert adapter is not None
        monkeypatch.setitem(adapter.poolmanager.key_fn_by_scheme, "http", counting)
        for _ in range(5):
            register(client)
        assert made == ["127.0.0.1"]
        assert len({r.peer for r in server.requests}) == 1  # one pool, one connection


@needs_pool_hooks
@pytest.mark.parametrize("proxies", [{}, {"https": "http://proxy.example:3128"}])
def test_a_pool_the_manager_evicted_is_never_used_again(proxies: dict[str, str]) -> None:
    # One pool at a time: asking for another host evicts (and closes) the first.
    adapter = _transport._DeadlineAdapter(pool_connections=1)
    first, second = (
        requests.Request("POST", f"https://{host}.example/").prepare() for host in ("a", "b")
    )

    def requests_answer(request: requests.PreparedRequest) -> object:
        return requests.adapters.HTTPAdapter.get_connection_with_tls_context(
            adapter, request, True, proxies, None
        )

    pool = adapter.get_connection_with_tls_context(first, True, proxies, None)
    assert adapter.get_connection_with_tls_context(first, True, proxies, None) is pool
    assert requests_answer(first) is pool
    assert adapter.get_connection_with_tls_context(second, True, proxies, None) is not pool
    again = adapter.get_connection_with_tls_context(first, True, proxies, None)
    assert again is not pool  # a new pool, the manager's own
    assert requests_answer(first) is again


def test_a_body_read_to_its_end_keeps_the_connection_and_one_past_the_cap_drops_it() -> None:
    error = b'{"__type": "InvalidInputException", "message": "'
    too_long = Reply(400, error + b"x" * 70000)
    # 64 KiB exactly: one whole block, the end found by one more read.
    one_block = Reply(400, error + b"x" * (65536 - len(error) - 2) + b'"}')
    short = Reply.json(400, {"__type": "InvalidInputException", "message": "no"})
    ok = Reply.json(200, OK)
    gzipped = Reply(200, gzip.compress(ok.body), {**ok.headers, "Content-Encoding": "gzip"})
    replies = (short, ok, one_block, gzipped, too_long, ok)
    with scripted_server(*replies) as server:
        config = li.ClientConfig(max_attempts=1)
        client = li.Client("us-east-1", endpoint_url=server.url, config=config, **KEYS)  # type: ignore[arg-type]
        for _ in range(3):
            with pytest.raises(li.ServiceError):
                register(client)
            assert register(client).container_image.digest == DIGEST
    peers = [r.peer for r in server.requests]
    assert len(set(peers[:5])) == 1  # each read whole: kept
    assert peers[5] != peers[4]  # 64 KiB read of 70 KB: dropped


# --- the deadline watchdog: cheap per request ------------------------------------------------


def test_the_watchdog_keeps_only_requests_in_flight() -> None:
    with scripted_server(default=Reply.json(200, OK)) as server:
        client = li.Client("us-east-1", endpoint_url=server.url, **KEYS)  # type: ignore[arg-type]
        for _ in range(50):
            register(client)
    assert _transport._WATCHDOG._watched == {}


def test_an_earlier_deadline_wakes_the_watchdog() -> None:
    # The watchdog sleeps until the earliest deadline it knows; a request
    # with an earlier one (a shorter timeout, started later) must wake it,
    # or its trickling peer would hold it for the whole trickle (10 s).
    def client(url: str, read_timeout: float) -> li.Client:
        config = li.ClientConfig(read_timeout=read_timeout, max_attempts=1)
        return li.Client("us-east-1", endpoint_url=url, config=config, **KEYS)  # type: ignore[arg-type]

    def wait_long(url: str) -> None:
        with contextlib.suppress(li.LightsailError):  # cut off when the server stops
            client(url, 30).get_container_images(service_name="svc")

    with trickling_server(*SLOW_BODY) as host:
        long_wait = threading.Thread(target=wait_long, args=(f"http://{host}",), daemon=True)
        long_wait.start()
        time.sleep(0.3)  # its deadline, 60 s away, is now the one the watchdog waits for
        start = time.monotonic()
        with pytest.raises(li.TransportError, match="did not arrive in full"):
            client(f"http://{host}", TRICKLE_TIMEOUT).get_container_images(service_name="svc")
        assert time.monotonic() - start < 2 * TRICKLE_TIMEOUT + 2
    long_wait.join(timeout=30)
