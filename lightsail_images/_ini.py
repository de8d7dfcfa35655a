"""The shared config and credentials files, parsed without ``configparser`` when they are plain.

botocore reads ``~/.aws/config`` and ``~/.aws/credentials`` with
``configparser.RawConfigParser`` (``botocore.configloader``), and importing
configparser is about 0.2 MiB of a client's memory.  Nearly every such file
is plain: ``[section]`` headers, ``key = value`` lines, comments and blank
lines, in ASCII.  :func:`parse_plain` reads exactly that subset and gives
what ``botocore.configloader.raw_config_parse`` gives for it; for anything
else it returns ``None`` and the caller hands the file to botocore, whose
answer (or error) is then the one users get.  Outside the subset:

- an indented line that is not a comment (a value continued on the next
  line, or a nested block such as ``s3 =`` then indented settings);
- a ``[DEFAULT]`` section (configparser copies its values into every section);
- a section or a key given twice (configparser refuses them: botocore's error);
- a line that is neither a header, a comment nor ``key = value`` or
  ``key: value`` with a key (configparser refuses it, or would take it as a
  header with text after it);
- bytes that are not ASCII, and control characters other than tab, CR and LF.

:func:`profile_map` is ``botocore.configloader.build_profile_map``.  Both are
pure; ``_config.py`` reads the files.  ``tests/test_ini.py`` compares both with
botocore's own functions, on generated files.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

__all__ = ["SECTION_KINDS", "parse_plain", "profile_map"]

# What a plain file may hold: printable ASCII, tab, CR and LF.  Other control
# characters are line breaks to str.splitlines (or whitespace to str.strip)
# but not to configparser's file iteration.  Do not widen it without making
# the line splitting and stripping configparser's own: beyond ASCII, "\x85",
# "\u2028" and "\xa0" would be treated differently.
_PLAIN_TEXT = re.compile(r"[\t\n\r\x20-\x7e]*")


def parse_plain(text: str) -> dict[str, dict[str, str]] | None:
    """Return ``{section: {key: value}}`` as botocore's ``raw_config_parse`` does, or ``None``.

    ``None`` means the text is not in the plain subset described above: the
    caller must let botocore parse the file.  Keys are lower-cased, keys and
    values stripped, as configparser does.
    """
    if _PLAIN_TEXT.fullmatch(text) is None:
        return None
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        value = line.strip()
        if not value or value[0] in "#;":
            continue  # blank, or a comment (indented or not): configparser skips both
        if line[0] in " \t":
            return None  # a continuation line or a nested block
        if value[0] == "[":
            name = _header(value)
            if name is None or name in sections:
                return None
            current = sections[name] = {}
            continue
        option = _option(value)
        if current is None or option is None or option[0] in current:
            return None  # an option before any header, not an option, or a repeated key
        current[option[0]] = option[1]
    return sections


def _header(value: str) -> str | None:
    """Return the name of a ``[name]`` line; ``None`` for ``[DEFAULT]`` or anything less plain."""
    name = value[1:-1]
    if value[-1] != "]" or not name or "[" in name or "]" in name or name == "DEFAULT":
        return None
    return name


def _option(value: str) -> tuple[str, str] | None:
    """Return the lower-cased key and the value of a ``key = value`` or ``key: value`` line."""
    # configparser splits at the first "=" or ":", whichever comes first.
    split = min((i for i in (value.find("="), value.find(":")) if i >= 0), default=-1)
    key = value[:split].rstrip().lower() if split > 0 else ""
    return (key, value[split + 1 :].strip()) if key else None


# The section kinds botocore's build_profile_map sorts out ("[kind NAME]"),
# in its order, and the key each goes under.  A test reads the kinds from
# botocore's source, so a kind botocore adds fails it.
_KINDS = {"profile": "profiles", "sso-session": "sso_sessions", "services": "services"}
SECTION_KINDS = tuple(_KINDS)


def profile_map(sections: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Sort sections into profiles, SSO sessions and services, as ``build_profile_map`` does.

    ``[default]`` and ``[profile NAME]`` are profiles, ``[sso-session NAME]``
    and ``[services NAME]`` go under their own keys, anything else stays at
    the top level.  The values are copies: the result shares nothing with
    ``sections``.
    """
    named: dict[str, dict[str, Any]] = {kind: {} for kind in _KINDS}
    final: dict[str, Any] = {}
    for key, values in sections.items():
        copied = dict(values)
        kind = next((kind for kind in _KINDS if key.startswith(kind)), None)
        if kind is not None:
            named[kind].update(_named(key, copied))
        elif key == "default":
            named["profile"][key] = copied
        else:
            final[key] = copied
    for kind, final_key in _KINDS.items():
        final[final_key] = named[kind]
    return final


def _named(key: str, values: dict[str, str]) -> dict[str, dict[str, str]]:
    # botocore splits "profile NAME" with shlex, quotes and all, and ignores a
    # header that is not exactly two words.
    try:
        parts = shlex.split(key)
    except ValueError:
        return {}
    return {parts[1]: values} if len(parts) == 2 else {}  # noqa: PLR2004 - "kind NAME"
