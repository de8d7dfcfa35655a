"""Helpers for testing code that uses ``lightsail_images``.

``set_testing(True)`` turns the client's retry backoff sleeps off, so tests of
retry paths run instantly::

    from lightsail_images.testing import set_testing

    set_testing(True)
"""

from lightsail_images._retry import is_testing, set_testing

__all__ = ["is_testing", "set_testing"]
