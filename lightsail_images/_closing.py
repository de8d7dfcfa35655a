"""``with`` support for every class of this package that has a ``close()`` method.

One definition, shared by :class:`~lightsail_images.Client` and the push
machinery's image readers, so the protocol is written once.  It imports
nothing beyond the standard library, so using it costs ``import
lightsail_images`` nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["Closing"]


class Closing:
    """Mixin: ``with obj:`` calls ``obj.close()`` on the way out, exception or not."""

    def close(self) -> None:
        """Release what the object holds (each subclass says what)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
