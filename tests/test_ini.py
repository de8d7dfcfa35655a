"""The plain-file reader (``_ini.py``) against botocore's own file loader, on generated files.

botocore's ``raw_config_parse`` and ``load_config`` are the oracle: for any
file, ours gives what they give (or raises what they raise).  Files in the
plain subset must take our path (so the oracle really checks it); the others
must reach botocore's.
"""

from __future__ import annotations

import inspect
import os
import pathlib
import re
import tempfile
from typing import Any

import botocore.configloader
import botocore.exceptions
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lightsail_images import _config, _ini
from tests.test_imports import modules_after

NAMES = st.sampled_from(
    [
        "default",
        "Default",
        "DEFAULT",
        "dev",
        "profile dev",
        "profile  dev",
        "profile\tdev",
        "profile default",
        "profiledev",
        "profile a b",
        'profile "a b"',
        "profile 'x",
        " profile dev ",
        "sso-session corp",
        "services local",
        "services",
        "preview",
        "a]b",
        "[x",
    ]
)
KEYS = st.sampled_from(
    ["aws_access_key_id", "AWS_Secret_Access_Key", "region", "s3", "a b", "k[1]", "x", "services"]
)
VALUES = st.text(alphabet=st.sampled_from("aZ09 -_=:#;%[]/.\t'\"é\x0b"), max_size=12)
SEPARATORS = st.sampled_from(["=", ":", " = ", " : ", "\t=\t", "=:", ":=", " ="])


@st.composite
def lines(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["header", "option", "comment", "blank", "indented", "other"]))
    if kind == "header":
        return f"[{draw(NAMES)}]" + draw(st.sampled_from(["", "", " ", " x", "]"]))
    if kind == "option":
        return draw(KEYS) + draw(SEPARATORS) + draw(VALUES)
    if kind == "comment":
        return draw(st.sampled_from(["#", ";", "  #", "\t;"])) + draw(VALUES)
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t"]))
    if kind == "indented":
        return draw(st.sampled_from([" ", "\t", "    "])) + draw(KEYS) + " = " + draw(VALUES)
    return draw(st.sampled_from(["garbage", "=value", "[", "[]", "key", "\x00", "\x1c"]))


@st.composite
def files(draw: st.DrawFn) -> bytes:
    body = draw(st.lists(lines(), max_size=12))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return (end.join(body) + draw(st.sampled_from(["", end]))).encode()


@st.composite
def plain_files(draw: st.DrawFn) -> bytes:
    """Files in the plain subset: unique headers and keys, no indented or odd lines."""
    out: list[str] = []
    names = draw(st.lists(NAMES.filter(_plain_name), unique=True, max_size=5))
    for name in names:
        out.append(f"[{name}]")
        keys = draw(st.lists(KEYS, unique_by=str.lower, max_size=4))
        for key in keys:
            value = draw(VALUES.map(lambda v: v.replace("é", "e").replace("\x0b", " ")))
            out.append(key + draw(SEPARATORS) + value)
            out += draw(st.lists(st.sampled_from(["", "# note", "  ; note", "\t"]), max_size=2))
    return "\n".join(out).encode()


def _plain_name(name: str) -> bool:
    return name != "DEFAULT" and "[" not in name and "]" not in name


def botocore_reads(path: pathlib.Path, *, profiles: bool) -> Any:
    """What botocore's loader returns for ``path``, or the type of what it raises."""
    try:
        if profiles:
            return botocore.configloader.load_config(str(path))
        return botocore.configloader.raw_config_parse(str(path))
    except botocore.exceptions.BotoCoreError as exc:
        return type(exc)


def we_read(path: pathlib.Path, *, profiles: bool) -> Any:
    try:
        return _config._load_file(str(path), profiles=profiles)
    except botocore.exceptions.BotoCoreError as exc:
        return type(exc)


def write(data: bytes) -> pathlib.Path:
    handle, name = tempfile.mkstemp(prefix="lightsail-ini-")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    return pathlib.Path(name)


@settings(max_examples=400)
@given(data=files(), profiles=st.booleans())
@example(data=b"[profile dev]\nregion = eu-west-1\n  nested = 1\n", profiles=True)
@example(data=b"[default]\ns3 =\n  addressing_style = path\n", profiles=True)
@example(data=b"[DEFAULT]\nregion = x\n[a]\n", profiles=False)
@example(data=b"[a]\nk = 1\n[a]\n", profiles=False)
@example(data=b"[a]\nK = 1\nk = 2\n", profiles=False)
@example(data=b"[a] trailing\nk = 1\n", profiles=False)
@example(data=b"k = 1\n[a]\n", profiles=False)
@example(data=b"[a]\nk = \xc3\xa9\n", profiles=False)
def test_any_file_reads_as_botocore_reads_it(data: bytes, profiles: bool) -> None:
    path = write(data)
    try:
        assert we_read(path, profiles=profiles) == botocore_reads(path, profiles=profiles)
    finally:
        path.unlink()


@settings(max_examples=300)
@given(data=plain_files())
@example(data=b"[profile dev]\nRegion=eu-west-1\n\n# done\n[default]\naws_access_key_id : AKID\n")
def test_plain_files_are_parsed_here_exactly_as_botocore_parses_them(data: bytes) -> None:
    sections = _ini.parse_plain(data.decode("ascii"))
    assert sections is not None, "a plain file must not need botocore's parser"
    path = write(data)
    try:
        assert sections == botocore.configloader.raw_config_parse(str(path))
        assert _ini.profile_map(sections) == botocore.configloader.load_config(str(path))
    finally:
        path.unlink()


@pytest.mark.parametrize(
    "text",
    [
        "[a]\n  continued = 1\n",  # an indented line
        "[a]\nk =\n\tv\n",  # a continued value
        "[DEFAULT]\nk = 1\n",
        "[a]\n[a]\n",
        "[a]\nk = 1\nK = 2\n",
        "k = 1\n",  # no header yet
        "[a]\njust words\n",
        "[a]\n= no key\n",
        "[a] x\n",
        "[]\n",
        "[a]\nk = caf\u00e9\n",
        "[a]\nk = 1\x0b2\n",
    ],
)
def test_what_is_not_plain_goes_to_botocore(text: str) -> None:
    assert _ini.parse_plain(text) is None


def test_the_section_kinds_are_botocores() -> None:
    # profile_map repeats build_profile_map's "key.startswith(...)" kinds; a
    # kind botocore adds would otherwise be sorted differently, unnoticed.
    source = inspect.getsource(botocore.configloader.build_profile_map)
    assert tuple(re.findall(r"key\.startswith\(['\"]([^'\"]+)['\"]\)", source)) == (
        _ini.SECTION_KINDS
    )


def test_a_missing_file_or_a_directory_is_no_file(tmp_path: pathlib.Path) -> None:
    for path in (tmp_path / "missing", tmp_path):
        for profiles in (True, False):
            assert botocore_reads(path, profiles=profiles) is botocore.exceptions.ConfigNotFound
            assert _config._load_file(str(path), profiles=profiles) is None


def test_a_plain_file_over_the_size_cap_is_botocores_to_read(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "_PLAIN_FILE_MAX", 64)
    parsed: list[str] = []
    monkeypatch.setattr(_ini, "parse_plain", parsed.append)
    path = tmp_path / "config"
    path.write_text("[default]\n" + "".join(f"k{n} = {n}\n" for n in range(20)))
    for profiles in (True, False):
        assert _config._load_file(str(path), profiles=profiles) == botocore_reads(
            path, profiles=profiles
        )
    assert parsed == []  # never offered to the plain parser


def test_a_file_that_cannot_be_read_here_is_botocores_to_read(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_config, "open", unreadable, raising=False)
    path = tmp_path / "config"
    path.write_text("[profile dev]\nregion = eu-west-1\n")
    for profiles in (True, False):
        assert _config._load_file(str(path), profiles=profiles) == botocore_reads(
            path, profiles=profiles
        )


def test_the_sections_are_copied_not_shared() -> None:
    sections = {"default": {"region": "eu-west-1"}, "profile dev": {"region": "us-east-1"}}
    mapped = _ini.profile_map(sections)
    mapped["profiles"]["default"]["region"] = "changed"
    assert sections["default"]["region"] == "eu-west-1"


PLAIN_PROFILE = """
import os, pathlib, tempfile
home = pathlib.Path(tempfile.mkdtemp())
(home / "credentials").write_text(
    "[bench]\\naws_access_key_id = AKIDINI\\naws_secret_access_key = s\\n"
)
(home / "config").write_text("[profile bench]\\nregion = eu-west-1\\n" + EXTRA)
os.environ.update(AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
                  AWS_CONFIG_FILE=str(home / "config"), AWS_PROFILE="bench")
import lightsail_images as li
client = li.Client(endpoint_url="http://127.0.0.1:9")
assert client.region_name == "eu-west-1", client.region_name
"""


@pytest.mark.parametrize(
    ("extra", "loads_configparser"),
    [("", False), ("[profile nested]\ns3 =\n  addressing_style = path\n", True)],
)
def test_a_plain_profile_loads_no_configparser(extra: str, loads_configparser: bool) -> None:
    loaded = modules_after(f"EXTRA = {extra!r}\n" + PLAIN_PROFILE)
    assert ("configparser" in loaded) is loads_configparser
    assert ("botocore.configloader" in loaded) is loads_configparser
