"""The typed usage file covers every public exception, and ClientError still catches them."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import lightsail_images as li

USAGE = Path(__file__).parent / "typing" / "usage.py"


def _annotated_parameters(function: str) -> set[str]:
    tree = ast.parse(USAGE.read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    return {
        ast.unparse(arg.annotation).removeprefix("li.")
        for arg in node.args.kwonlyargs
        if arg.annotation is not None
    }


def test_the_usage_file_tries_a_typo_on_every_public_exception() -> None:
    # mypy and pyright check the file (nox -s typecheck); this checks that a
    # newly exported exception gets its line there too.
    exceptions = {
        name
        for name in li.__all__
        if inspect.isclass(value := getattr(li, name)) and issubclass(value, BaseException)
    }
    assert len(exceptions) >= 21
    assert _annotated_parameters("attribute_typos") == exceptions


def test_except_clienterror_still_catches_service_errors(fake, fake_url) -> None:
    client = li.Client(
        fake.region_name,
        endpoint_url=fake_url,
        aws_access_key_id=fake.access_key_id,
        aws_secret_access_key=fake.secret_access_key,
    )
    with client, pytest.raises(ClientError) as info:  # code written around boto3
        client.get_container_images(service_name="no-such-service")
    assert type(info.value) is li.NotFoundException
    assert info.value.response["Error"]["Code"] == "NotFoundException"
    assert info.value.operation_name == "GetContainerImages"
    assert ClientError in li.ServiceError.__mro__
