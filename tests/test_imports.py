"""What importing and calling load, and what a call reads: performance guards without timings.

Timings do not belong in a test suite on shared machines (benchmarks/bench.py
measures them as ratios); what makes them slow does.  These tests pin down:

- ``import lightsail_images`` loads none of botocore's client machinery, boto3
  or the push machinery: the first ``register_container_image`` needs none of
  them (docs/performance.md has the figures).
- A client given its keys, region and endpoint never builds a botocore
  ``Session`` (profile settings such as ``max_attempts`` are read with
  botocore's file loader): that import alone costs a sixth of a cold start.
- The credential chain is resolved once per client, not per call, and
  building and signing a request touches no socket.

Import checks run in a fresh interpreter, since conftest.py imports boto3 here.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
import responses

import lightsail_images as li
from lightsail_images import _config, _signing
from lightsail_images._operations import REGISTER_CONTAINER_IMAGE
from lightsail_images._protocol import build_request

ROOT = Path(__file__).resolve().parents[1]
URL = "https://lightsail.us-east-1.amazonaws.com/"
DIGEST = "sha256:" + "5e" * 32
OK = {"containerImage": {"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1}}
KEYS = {"aws_access_key_id": "AKIDIMPORTS", "aws_secret_access_key": "imports-secret"}

# Loaded by boto3.client() and never needed by this library's calls.
BOTOCORE_CLIENT_MACHINERY = (
    "boto3",
    "botocore.session",
    "botocore.client",
    "botocore.endpoint",
    "botocore.docs",
    "botocore.handlers",
    "botocore.loaders",
    "botocore.model",
    "botocore.parsers",
    "botocore.serialize",
)
# Loaded on the first push only (see lightsail_images/__init__.py).
PUSH_MACHINERY = (
    "lightsail_images._push.push",
    "lightsail_images._push.image",
    "lightsail_images._push.sources",
    "tarfile",
)


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_import_loads_no_botocore_client_machinery_and_no_push_machinery() -> None:
    loaded = modules_after("import lightsail_images")
    assert "lightsail_images._client" in loaded  # the check itself works
    assert loaded.isdisjoint(BOTOCORE_CLIENT_MACHINERY), sorted(
        loaded & set(BOTOCORE_CLIENT_MACHINERY)
    )
    assert loaded.isdisjoint(PUSH_MACHINERY), sorted(loaded & set(PUSH_MACHINERY))


CONFIGURED_CALL = """
import responses
import lightsail_images as li

with responses.RequestsMock() as mock:
    mock.post({url!r}, json={ok!r})
    client = li.Client("us-east-1", endpoint_url={url!r}, {config}**{keys!r})
    client.register_container_image(service_name="svc", label="web", digest={digest!r})
    assert len(mock.calls) == 1
"""


@pytest.mark.parametrize(
    "config", ["", "config=li.ClientConfig(max_attempts=3), "], ids=["profile-read", "all-given"]
)
def test_a_configured_call_never_loads_botocore_session(config: str) -> None:
    code = CONFIGURED_CALL.format(url=URL, ok=OK, keys=KEYS, digest=DIGEST, config=config)
    loaded = modules_after(code)
    assert "lightsail_images._protocol" in loaded
    assert loaded.isdisjoint(BOTOCORE_CLIENT_MACHINERY), sorted(
        loaded & set(BOTOCORE_CLIENT_MACHINERY)
    )


# Credentials from the environment, or from a profile's plain keys, are found
# without botocore's credential chain: botocore.credentials imports botocore's
# whole client machinery (lightsail_images/_credentials.py says more).
CREDENTIAL_CHAIN = ("botocore.credentials", *BOTOCORE_CLIENT_MACHINERY)

ENVIRONMENT_CALL = """
import os, pathlib, tempfile
home = tempfile.mkdtemp()
os.environ.update({{"HOME": home, "AWS_CONFIG_FILE": home + "/config",
                   "AWS_SHARED_CREDENTIALS_FILE": home + "/credentials",
                   "AWS_EC2_METADATA_DISABLED": "true"}})
{setup}
import responses
import lightsail_images as li

with responses.RequestsMock() as mock:
    mock.post({url!r}, json={ok!r})
    client = li.Client("us-east-1", endpoint_url={url!r}{profile})
    client.register_container_image(service_name="svc", label="web", digest={digest!r})
    assert len(mock.calls) == 1
    assert "Credential=AKIDIMPORTS/" in mock.calls[0].request.headers["Authorization"]
"""


def write_file(name: str, text: str) -> str:
    """Code that writes ``text`` to ``name`` in the subprocess's home."""
    return f"pathlib.Path(home, {name!r}).write_text({text!r})"


PROCESS_OUTPUT = '{"Version": 1, "AccessKeyId": "AKIDIMPORTS", "SecretAccessKey": "s"}'
CREDENTIAL_SETUPS = {
    "environment": (
        (
            'os.environ.update({"AWS_ACCESS_KEY_ID": "AKIDIMPORTS", '
            '"AWS_SECRET_ACCESS_KEY": "imports-secret", "AWS_SESSION_TOKEN": "t"})'
        ),
        "",
    ),
    "AWS_PROFILE, credentials file": (
        write_file(
            "credentials", "[ops]\naws_access_key_id = AKIDIMPORTS\naws_secret_access_key = s\n"
        )
        + '\nos.environ["AWS_PROFILE"] = "ops"',
        "",
    ),
    "profile_name, config file": (
        write_file(
            "config",
            "[profile ops]\naws_access_key_id = AKIDIMPORTS\naws_secret_access_key = s\n"
            "aws_session_token = t\n",
        ),
        ', profile_name="ops"',
    ),
}


@pytest.mark.parametrize("setup", CREDENTIAL_SETUPS)
def test_environment_and_profile_keys_load_no_credential_chain(setup: str) -> None:
    code, profile = CREDENTIAL_SETUPS[setup]
    loaded = modules_after(
        ENVIRONMENT_CALL.format(setup=code, profile=profile, url=URL, ok=OK, digest=DIGEST)
    )
    assert "lightsail_images._credentials" in loaded  # the check itself works
    assert loaded.isdisjoint(CREDENTIAL_CHAIN), sorted(loaded & set(CREDENTIAL_CHAIN))


# Loaded on first use (lightsail_images/_public.py): a registration needs none
# of them.  configparser, because with no config file there is nothing to parse.
LOADED_ON_FIRST_USE = (
    "lightsail_images._deploy",
    "lightsail_images._service_models",
    "lightsail_images._registry_models",
    "lightsail_images._image_models",
    "lightsail_images._error_models",
    "lightsail_images._lifecycle",
    "lightsail_images._cli",
    "lightsail_images.testing",
    "uuid",
    "configparser",
    "botocore.configloader",
)


def test_a_registration_loads_nothing_it_does_not_use() -> None:
    loaded = modules_after(
        ENVIRONMENT_CALL.format(
            setup=CREDENTIAL_SETUPS["environment"][0], profile="", url=URL, ok=OK, digest=DIGEST
        )
    )
    assert "lightsail_images._models" in loaded  # the check itself works
    assert loaded.isdisjoint(LOADED_ON_FIRST_USE), sorted(loaded & set(LOADED_ON_FIRST_USE))


LAZY_NAMES = """
import pickle
import lightsail_images as li
{first}
for name in li.__all__:
    value = getattr(li, name)
    if isinstance(value, type):
        assert value.__module__ == "lightsail_images", (name, value.__module__)
        assert pickle.loads(pickle.dumps(value)) is value, name
assert set(li.__all__) <= set(dir(li))
container = li.Container(image=":svc.web.1", ports={{"80": "HTTP"}})
assert pickle.loads(pickle.dumps(container)) == container
assert repr(container).startswith("Container(")
"""


@pytest.mark.parametrize(
    "first",
    [
        "",
        "from lightsail_images._models import Container, PushProgress",
        "from lightsail_images._models import ImageRef, ErrorDetails, PruneResult",
        "from lightsail_images._deploy import DeploymentProgress",
        "from lightsail_images.testing import FakeLightsail",
    ],
    ids=["public", "via-_models", "via-_models-images", "via-_deploy", "via-testing"],
)
def test_names_loaded_on_first_use_are_public_however_reached(first: str) -> None:
    # Reached through a private module first or not, a lazily loaded class
    # says lightsail_images.X and pickles by that name.
    loaded = modules_after(LAZY_NAMES.format(first=first))
    assert "lightsail_images._service_models" in loaded


def test_other_providers_still_load_the_credential_chain() -> None:
    code = write_file("config", f"[default]\ncredential_process = echo '{PROCESS_OUTPUT}'\n")
    loaded = modules_after(
        ENVIRONMENT_CALL.format(setup=code, profile="", url=URL, ok=OK, digest=DIGEST)
    )
    assert "botocore.credentials" in loaded


# --- what a call reads, in this interpreter --------------------------------------------


class Counts:
    """Calls to botocore Session construction and credential lookup, and ours."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sessions = 0
        self.chain_lookups = 0
        self.credential_gets = 0
        session_init = botocore.session.Session.__init__
        get_credentials = botocore.session.Session.get_credentials
        credential_get = _signing.CredentialSource.get

        def counted_init(session: object, *args: object, **kwargs: object) -> None:
            self.sessions += 1
            session_init(session, *args, **kwargs)

        def counted_get_credentials(session: object) -> object:
            self.chain_lookups += 1
            return get_credentials(session)

        def counted_credential_get(source: _signing.CredentialSource) -> object:
            self.credential_gets += 1
            return credential_get(source)

        monkeypatch.setattr(botocore.session.Session, "__init__", counted_init)
        monkeypatch.setattr(botocore.session.Session, "get_credentials", counted_get_credentials)
        monkeypatch.setattr(_signing.CredentialSource, "get", counted_credential_get)


def configured_client(config: li.ClientConfig | None) -> li.Client:
    """Keys, region and endpoint given; attempts given, or read from the (empty) profile."""
    return li.Client("us-east-1", endpoint_url=URL, config=config, **KEYS)  # type: ignore[arg-type]


def register_three_times(client: li.Client) -> None:
    for _ in range(3):
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)


@pytest.mark.parametrize("config", [None, li.ClientConfig(max_attempts=3)])
@responses.activate
def test_explicit_keys_never_reach_the_credential_chain(
    monkeypatch: pytest.MonkeyPatch, config: li.ClientConfig | None
) -> None:
    responses.post(URL, json=OK)
    counts = Counts(monkeypatch)
    register_three_times(configured_client(config))
    assert counts.sessions == 0
    assert counts.chain_lookups == 0
    assert counts.credential_gets == 3  # one per attempt, each a plain read
    assert len(responses.calls) == 3


@responses.activate
def test_environment_keys_are_read_once_per_client_without_a_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    responses.post(URL, json=OK)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEYS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEYS["aws_secret_access_key"])
    counts = Counts(monkeypatch)
    client = li.Client("us-east-1", endpoint_url=URL, config=li.ClientConfig(max_attempts=3))
    register_three_times(client)
    assert counts.sessions == 0
    assert counts.chain_lookups == 0
    assert counts.credential_gets == 3
    assert len(responses.calls) == 3


@responses.activate
def test_the_botocore_chain_is_resolved_once_per_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    responses.post(URL, json=OK)
    output = '{"Version": 1, "AccessKeyId": "AKIDPROCESS", "SecretAccessKey": "s"}'
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = echo '{output}'\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    counts = Counts(monkeypatch)
    client = li.Client("us-east-1", endpoint_url=URL, config=li.ClientConfig(max_attempts=3))
    assert counts.chain_lookups == 0  # lazily: nothing at construction
    register_three_times(client)
    assert counts.sessions == 1
    assert counts.chain_lookups == 1
    assert counts.credential_gets == 3
    assert len(responses.calls) == 3
    assert "Credential=AKIDPROCESS/" in responses.calls[0].request.headers["Authorization"]


def test_building_and_signing_a_request_touches_no_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*_args: object, **_kwargs: object) -> None:
        pytest.fail("building or signing a request used the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    values = {"service_name": "svc", "label": "web", "digest": DIGEST}
    request = build_request(REGISTER_CONTAINER_IMAGE, values, endpoint_url=URL)
    sessions = _config.SessionSource(botocore_session=None, profile_name=None)
    credentials = _signing.CredentialSource(
        explicit=_signing.FrozenCredentials("AKIDIMPORTS", "imports-secret", None),
        sessions=sessions,
    )
    headers = _signing.Signer(credentials, "us-east-1").sign(request, {"User-Agent": "t"})
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDIMPORTS/")
