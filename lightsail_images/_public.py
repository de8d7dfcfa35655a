"""Public classes say where users import them from.

As httpx does for its names, each package's ``__init__`` hands its namespace
here once: tracebacks and ``repr(type(err))`` then show
``lightsail_images.NotFoundException`` instead of the private module, and
pickle finds each class at that public path.  It is a loop over ``__all__``,
so a class added later needs no line of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

__all__ = ["present_as_public"]


def present_as_public(namespace: Mapping[str, object], module: str, names: Iterable[str]) -> None:
    """Set ``__module__`` to ``module`` on the classes among ``names`` from its private modules."""
    for name in names:
        value = namespace[name]
        # Only classes defined in this package's private modules: one that
        # another public module exports too keeps the name it already has.
        if not isinstance(value, type) or not value.__module__.startswith(f"{module}._"):
            continue
        if attrs.has(value):
            # Annotations are strings under postponed evaluation; resolve them
            # in the defining module now, since cattrs would look the names up
            # in ``module`` once __module__ points there.
            attrs.resolve_types(value)
        value.__module__ = module
