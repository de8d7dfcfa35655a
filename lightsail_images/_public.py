"""Public classes say where users import them from; some of them load on first use.

As httpx does for its names, each package's ``__init__`` hands its namespace
here once: tracebacks and ``repr(type(err))`` then show
``lightsail_images.NotFoundException`` instead of the private module, and
pickle finds each class at that public path.  It is a loop over ``__all__``,
so a class added later needs no line of its own.

Some public names live in modules that a registration never needs (the
models of container services and deployments, the deployment helpers).
Those modules load on first use: :func:`lazy_attributes` makes a PEP 562
module ``__getattr__`` that imports a name's module when the name is first
asked for, and :func:`present_when_loaded`, called at the end of such a
module, gives its public classes their public ``__module__`` as they are
built, whichever way they were reached first.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Iterable, Mapping

import attrs

__all__ = ["PACKAGE", "lazy_attributes", "present_as_public", "present_when_loaded"]

PACKAGE = "lightsail_images"


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


def present_when_loaded(namespace: Mapping[str, object]) -> None:
    """Present the classes of a lazily loaded module that ``lightsail_images`` exports.

    Called last in such a module.  The package has finished importing by
    then (``tests/test_imports.py`` checks that no module it imports loads
    one of these), so its ``__all__`` says which names are public.
    """
    public = getattr(sys.modules[PACKAGE], "__all__", ())
    names = namespace["__all__"]
    assert isinstance(names, list)  # noqa: S101 - every module here has one
    present_as_public(namespace, PACKAGE, [name for name in names if name in public])


def lazy_attributes(
    module: str, sources: Iterable[str], *, only: Collection[str] | None = None
) -> Callable[[str], object]:
    """Return a module ``__getattr__`` that finds a name in ``sources`` on first use.

    Each source module is imported, in order, until one has the name; the
    value is then stored in ``module``'s namespace, so it is looked up only
    once.  ``only``, when given, limits the names to those; names that start
    with ``_`` are never looked for.
    """
    sources = tuple(sources)

    def __getattr__(name: str) -> object:  # noqa: N807 - the PEP 562 hook
        # Never a private or dunder name: importlib and inspect probe modules
        # for __path__ and the like, which must not load anything.
        if not name.startswith("_") and (only is None or name in only):
            for source in sources:
                namespace = vars(importlib.import_module(source))
                if name in namespace.get("__all__", ()):
                    value = namespace[name]
                    vars(sys.modules[module])[name] = value
                    return value
        msg = f"module {module!r} has no attribute {name!r}"
        raise AttributeError(msg)

    return __getattr__
