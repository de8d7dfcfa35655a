"""The public surface is exactly what the docs and the contract say."""

from __future__ import annotations

import importlib.metadata
import inspect
import pathlib
import re

import pytest

import lightsail_images as li

CONTRACT = pathlib.Path(__file__).resolve().parents[2] / "shared" / "API.md"


def test_all_is_exactly_the_public_names() -> None:
    # Subpackages (lightsail_images.testing) appear once imported; they are not names.
    public = {
        name
        for name in dir(li)
        if not name.startswith("_") and not inspect.ismodule(getattr(li, name))
    } | {"__version__"}
    assert set(li.__all__) == public
    assert len(li.__all__) == len(set(li.__all__))
    assert li.__all__ == sorted(li.__all__, key=lambda n: (n.startswith("_"), n))


def test_every_contract_name_is_exported() -> None:
    if not CONTRACT.exists():  # the contract lives beside the repo, not in it
        names = {"Client", "ClientConfig", "ServiceError"}
    else:
        names = set(re.findall(r"\bli\.([A-Za-z_][A-Za-z0-9_]*)", CONTRACT.read_text()))
    assert names <= set(li.__all__)


def test_every_public_name_has_a_docstring() -> None:
    for name in li.__all__:
        if name == "__version__":
            continue
        obj = getattr(li, name)
        assert inspect.getdoc(obj), name


def test_version_matches_the_distribution() -> None:
    assert li.__version__ == importlib.metadata.version("lightsail-images")
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+)?", li.__version__)


def test_package_is_typed() -> None:
    assert (pathlib.Path(li.__file__).parent / "py.typed").exists()


def test_runtime_dependencies_are_the_chosen_ones() -> None:
    requirements = importlib.metadata.requires("lightsail-images") or []
    runtime = [req for req in requirements if "extra ==" not in req]
    names = {re.split(r"[<>=!~\[ ;]", req)[0].lower().replace("_", "-") for req in runtime}
    # zlib-ng: the deflater of docker save pushes (lightsail_images/_push/compress.py).
    assert names == {"botocore", "requests", "attrs", "cattrs", "typing-extensions", "zlib-ng"}


def test_operation_parameters_are_keyword_only() -> None:
    signature = inspect.signature(li.Client.register_container_image)
    params = [p for p in signature.parameters.values() if p.name != "self"]
    assert [p.name for p in params] == ["service_name", "label", "digest"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    client_params = inspect.signature(li.Client).parameters
    assert list(client_params) == [
        "region_name",
        "endpoint_url",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "profile_name",
        "botocore_session",
        "config",
        "http_session",
    ]


def test_push_names_cost_no_push_machinery() -> None:
    import subprocess
    import sys

    # The push exceptions and models live with every other one; the push
    # machinery (tar, a thread pool, the registry protocol) loads on the first
    # push only.
    code = (
        "import sys, lightsail_images as li;"
        "assert issubclass(li.RegistryError, li.LightsailError);"
        "assert issubclass(li.PlatformError, li.ImageSourceError);"
        "assert li.PushProgress.__name__ == 'PushProgress';"
        "assert li.PushedImage.__name__ == 'PushedImage';"
        "assert not any(m.startswith('lightsail_images._push') for m in sys.modules);"
        "assert 'lightsail_images._push.sources' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        li.nope  # noqa: B018
