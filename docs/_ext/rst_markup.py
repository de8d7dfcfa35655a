"""A griffe extension: render the package's reST-flavoured docstrings as Markdown.

The package's docstrings are written for readers of the source and of
``help()``: Google-style sections, with two reStructuredText habits mixed in.

- Cross-reference roles, ``:class:`ClientConfig``` or ``:meth:`serve```.  These
  become Markdown cross-references (``[ClientConfig][lightsail_images.ClientConfig]``)
  when the name resolves inside the package, else plain code, so a reference to
  botocore never breaks the strict build.
- Literal blocks introduced by a line ending in ``::`` (``Example::``).  These
  become fenced ``python`` blocks, so the examples are highlighted instead of
  showing a stray ``::``.

The package keeps writing docstrings its own way; this file is the one place
that knows how to show them on the site.  mkdocs.yml loads it through
mkdocstrings' ``extensions`` option; it is not a page (``exclude_docs``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|attr|func|exc|data|obj|mod):`(?P<tilde>~?)(?P<target>[^`]+)`")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def literal_blocks_to_fences(text: str) -> str:
    """Turn each ``text::`` plus indented block into ``text:`` plus a fenced block."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.rstrip().endswith("::"):
            out.append(line)
            continue
        base = _indent(line)
        body_start = index
        while body_start < len(lines) and not lines[body_start].strip():
            body_start += 1
        body_end = body_start
        while body_end < len(lines) and (
            not lines[body_end].strip() or _indent(lines[body_end]) > base
        ):
            body_end += 1
        while body_end > body_start and not lines[body_end - 1].strip():
            body_end -= 1
        if body_end == body_start:  # "::" with no block below: leave it alone
            out.append(line)
            continue
        stripped = line.rstrip()[:-2].rstrip()
        # A bare "::" line introduces the block without any text of its own.
        if stripped.strip():
            out.extend((stripped + ":", ""))
        block = lines[body_start:body_end]
        cut = min(_indent(row) for row in block if row.strip())
        pad = " " * base
        out.append(f"{pad}```python")
        out.extend(f"{pad}{row[cut:]}" if row.strip() else "" for row in block)
        out.append(f"{pad}```")
        index = body_end
    return "\n".join(out)


def roles_to_references(text: str, obj: griffe.Object) -> str:
    """Turn ``:role:`name``` into a Markdown cross-reference, or code when unknown."""

    def replace(match: re.Match[str]) -> str:
        target = match["target"].strip()
        shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
        path = _resolve(obj, target)
        return f"[`{shown}`][{path}]" if path else f"`{shown}`"

    return _ROLE.sub(replace, text)


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """Return the full path of ``target`` as seen from ``obj``, if it is in the package."""
    package = obj.package.name
    if target.startswith(package + "."):
        return target
    head, _, rest = target.partition(".")
    try:
        path = obj.resolve(head)
    except griffe.NameResolutionError:
        return None
    if not path.startswith(package + "."):
        return None
    return f"{path}.{rest}" if rest else path


class RstMarkup(griffe.Extension):
    """Rewrite every docstring of a loaded package from reST habits to Markdown."""

    def on_package(self, *, pkg: griffe.Module, **_kwargs: Any) -> None:
        """Rewrite docstrings once the whole package is loaded and names resolve."""
        seen: set[str] = set()
        self._rewrite(pkg, seen)

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            text = literal_blocks_to_fences(obj.docstring.value)
            obj.docstring.value = roles_to_references(text, obj)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member, seen)
