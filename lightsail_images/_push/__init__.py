"""Pushing an image from disk to an OCI registry: one module per step.

Read in the order a push happens:

- ``image.py``: the image model (platforms, descriptors, manifests, digests),
  parsed from JSON as pure code.
- ``sources.py``: reading an image and its blobs from disk (layout directory,
  OCI archive, ``docker save`` tarball), never outside the source.
- ``cache.py``: the compressed digests of ``docker save`` layers, kept on
  disk so that a re-run compresses nothing.
- ``distribution.py``: the OCI distribution protocol as pure code: requests
  to build, answers to classify (status, challenges, ``Range``, ``Location``).
- ``auth.py``: Basic and Bearer authentication, with credentials that never
  show in a repr, a log line or a message.
- ``upload.py``: one blob's upload session.
- ``push.py``: the orchestration: ping, check, upload in a bounded pool,
  store the manifest, check its digest.

Nothing here is imported by ``import lightsail_images``: the first push loads
it.  HTTP goes through ``lightsail_images._transport``, retries through
``lightsail_images._retry`` and every exception comes from
``lightsail_images._errors``, shared with the Lightsail calls.
"""
