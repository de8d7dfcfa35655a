"""The ``lightsail-images`` command: the client's operations from a shell.

::

    lightsail-images register --service-name my-svc --label web --digest sha256:...
    lightsail-images list --service-name my-svc --output json
    lightsail-images fake-server --service my-svc      # an offline Lightsail, for demos and CI

The shape, so each concern has one home:

- :data:`COMMANDS` is the table of subcommands.  Each is a small function from
  the parsed arguments and a :class:`~lightsail_images.Client` to an
  :class:`Output`, which carries both renderings of its result.
- :func:`render` is the one place that turns an :class:`Output` into JSON or
  text.  JSON mirrors what the AWS CLI prints for the same operation
  (``aws lightsail register-container-image`` and friends: the API's member
  names, timestamps as the profile's ``cli_timestamp_format`` says, 4-space
  indent, nothing at all for an empty result), so scripts can swap one command
  for the other; ``tests/test_cli_awscli.py`` runs both side by side.
- :func:`exit_code_for` and :func:`describe_error` are the one place that maps
  exceptions to exit codes and to what is printed on stderr.  Advice there is
  for the shell (flags, environment variables): :data:`FLAGS` maps the
  library's field and setting names to the flags, in one table.  Tracebacks
  only with ``--debug``.

Exit codes (see :class:`ExitCode`): 0 success, 1 an unexpected internal error,
2 bad arguments or parameters, 3 the service rejected the request, 4 the service
or network failed after retries, 5 configuration (region, credentials,
profile, endpoint), 130 interrupted.

Only the standard library and this package are used here: the command adds no
dependency.  ``fake-server`` imports :mod:`lightsail_images.testing` lazily, so
the other subcommands never load it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import gc
import json
import logging
import secrets
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from types import FrameType
from typing import Any, NoReturn

import attrs
from typing_extensions import Self

from lightsail_images._client import Client
from lightsail_images._config import ClientConfig, check_endpoint_url, profile_setting
from lightsail_images._deploy import DEFAULT_TIMEOUT, DeploymentProgress
from lightsail_images._errors import (
    ConfigurationError,
    DeploymentFailedError,
    DeploymentTimeoutError,
    ImageSourceError,
    LightsailError,
    MalformedResponseError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    RegistryAuthError,
    RegistryError,
    ServiceError,
    TransportError,
    ValidationProblem,
)
from lightsail_images._image_models import ImageRef
from lightsail_images._models import Container, ContainerImage, EndpointRequest
from lightsail_images._protocol import to_json, wire_members
from lightsail_images._version import __version__

__all__ = [
    "COMMANDS",
    "FLAGS",
    "TIMESTAMP_FORMATS",
    "Command",
    "ExitCode",
    "Output",
    "build_parser",
    "describe_error",
    "exit_code_for",
    "main",
    "render",
    "run",
]

PROG = "lightsail-images"
LOGGER_NAME = "lightsail_images"
FAKE_SERVER_REGION = "us-east-1"


class ExitCode(enum.IntEnum):
    """What the command's exit status means.  Documented in ``docs/cli.md``."""

    OK = 0
    """Success."""
    INTERNAL = 1
    """An unexpected error: a bug in this tool; ``--debug`` shows the traceback."""
    USAGE = 2
    """Bad arguments (argparse) or a parameter the API will not accept; nothing was sent."""
    REJECTED = 3
    """The service rejected the request (a 4xx error such as ``NotFoundException``)."""
    FAILED = 4
    """The service or the network failed, after retries (5xx, no response, garbled response)."""
    CONFIGURATION = 5
    """Configuration: no region, no credentials, a missing profile, a bad endpoint URL."""
    DEPLOYMENT_FAILED = 6
    """The deployment failed: Lightsail could not start it; the previous one keeps running."""
    DEPLOYMENT_TIMEOUT = 7
    """The deployment had not settled before ``--timeout``; it may still finish."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C), as shells report SIGINT."""


class Arguments(argparse.Namespace):
    """The parsed command line, typed.  Subcommand options exist only for their subcommand."""

    # global options
    region: str | None
    profile: str | None
    endpoint_url: str | None
    cli_connect_timeout: float | None
    cli_read_timeout: float | None
    output: str
    debug: bool
    handler: Callable[[Arguments], int]
    # subcommand options
    service_name: str
    label: str
    only_label: str | None
    digest: str
    image: str
    keep: int
    yes: bool
    # push
    source: str
    jobs: int
    insecure_registry: bool
    # deploy (and push --deploy)
    deploy: bool
    deploy_image: str | None
    version: int | None
    container_name: str | None
    no_wait: bool
    timeout: float
    # fake-server
    host: str
    port: int
    service: list[str] | None
    deployment: list[str] | None


@dataclasses.dataclass(frozen=True)
class Output:
    """A subcommand's result, in both renderings.

    Attributes:
        document: the JSON document, shaped like the AWS CLI's output for the
            same operation, with models and datetimes as they are: :func:`render`
            converts them through the one converter; ``None`` prints nothing
            with ``--output json`` (as the AWS CLI does for an empty result).
        text: the lines printed with ``--output text``.

    """

    document: Mapping[str, Any] | None
    text: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand that calls the service through a :class:`Client`.

    Attributes:
        name: the subcommand, e.g. ``"register"``.
        summary: one line for the command list in ``--help``.
        description: the subcommand's own ``--help`` text.
        run: parsed arguments and a client in, an :class:`Output` out.
        options: adds the subcommand's own options to its parser.

    """

    name: str
    summary: str
    description: str
    run: Callable[[Arguments, Client], Output]
    options: Callable[[argparse.ArgumentParser], None]


# --- rendering ---------------------------------------------------------------------------


TIMESTAMP_FORMATS = ("iso8601", "wire", "none")
"""Values of the profile setting ``cli_timestamp_format``, as the AWS CLI reads it."""


def render(output: Output, output_format: str, timestamp_format: str = "iso8601") -> str:
    """Render ``output`` as ``"json"`` or ``"text"``; the result ends with a newline or is empty.

    Timestamps in JSON follow ``timestamp_format`` (the profile's
    ``cli_timestamp_format``): ``"iso8601"`` (the AWS CLI v2 default) prints
    ``"2024-05-01T12:00:00.250000+00:00"``, always in UTC; ``"wire"`` (v2) and
    ``"none"`` (v1, its default) print what the wire carries, epoch seconds
    (``1714564800.25``).
    """
    if output_format == "json":
        if output.document is None:
            return ""
        document = to_json(
            output.document, timestamps="iso" if timestamp_format == "iso8601" else "epoch"
        )
        return json.dumps(document, indent=4, ensure_ascii=False) + "\n"
    return "".join(f"{line}\n" for line in output.text)


def _human_time(when: dt.datetime) -> str:
    return f"{when.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def _image_cells(images: Iterable[ContainerImage]) -> list[tuple[str, str, str]]:
    return [(image.image, _human_time(image.created_at), image.digest) for image in images]


def _image_rows(images: Iterable[ContainerImage], indent: str = "") -> list[str]:
    return _columns(_image_cells(images), indent)


def _columns(rows: Sequence[tuple[str, ...]], indent: str = "") -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append(indent + "  ".join(cells).rstrip())
    return lines


def _use(image: ContainerImage) -> str:
    return f'use "{image.image}" as the image in your deployment'


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# --- the subcommands ---------------------------------------------------------------------


def _register(args: Arguments, client: Client) -> Output:
    image = client.register_container_image(
        service_name=args.service_name, label=args.label, digest=args.digest
    ).container_image
    return Output(
        {"containerImage": image},
        (f"registered {image.image} ({image.digest}) - {_use(image)}",),
    )


def _ensure(args: Arguments, client: Client) -> Output:
    image = client.ensure_container_image(
        service_name=args.service_name, label=args.label, digest=args.digest
    )
    # ensure_container_image does not say whether it registered or found the
    # image; guessing by listing here would duplicate its logic, so say neither.
    return Output(
        {"containerImage": image},
        (f"{image.image} ({image.digest}) is registered - {_use(image)}",),
    )


def _list(args: Arguments, client: Client) -> Output:
    images = client.get_container_images(service_name=args.service_name).container_images
    document = {"containerImages": images}
    if not images:
        return Output(document, (f"no images are registered to {args.service_name}",))
    table = [("IMAGE", "CREATED", "DIGEST"), *_image_cells(images)]
    return Output(document, tuple(_columns(table)))


def _delete(args: Arguments, client: Client) -> Output:
    client.delete_container_image(service_name=args.service_name, image=args.image)
    return Output(None, (f"deleted {args.image} from {args.service_name}",))


def _prune(args: Arguments, client: Client) -> Output:
    result = client.prune_container_images(
        service_name=args.service_name, keep=args.keep, label=args.only_label, dry_run=not args.yes
    )
    document = {"dryRun": result.dry_run, **wire_members(result)}  # the answer first
    count = len(result.deleted)
    if not count:
        head = "dry run: nothing to delete" if result.dry_run else "nothing to delete"
    elif result.dry_run:
        head = f"dry run: would delete {_plural(count, 'image')} (run again with --yes to delete):"
    else:
        head = f"deleted {_plural(count, 'image')}:"
    lines = [head, *_image_rows(result.deleted, "  ")]
    if result.kept:
        newest = f"the newest {args.keep}" if args.keep != 1 else "the newest"
        lines += [f"kept, {newest} of each label:", *_image_rows(result.kept, "  ")]
    if result.in_use:
        lines += ["kept, in use by a deployment:", *_image_rows(result.in_use, "  ")]
    return Output(document, tuple(lines))


def _registry_login(_args: Arguments, client: Client) -> Output:
    login = client.create_container_service_registry_login().registry_login
    document = {"registryLogin": login}
    lines = (
        f"registry: {login.registry}",
        f"username: {login.username}",
        f"expires:  {_human_time(login.expires_at)}",
        "password: not shown, it is a secret; --output json prints it",
    )
    return Output(document, lines)


def _push(args: Arguments, client: Client) -> Output:
    with _PushDisplay(sys.stderr) as display, _DeployDisplay(sys.stderr) as deploying:
        image = client.push_container_image(
            service_name=args.service_name,
            label=args.label,
            source=args.source,
            on_progress=display.update,
            max_workers=args.jobs,
            insecure_registry=args.insecure_registry,
            deploy=args.deploy,
            container_name=args.container_name,
            deploy_timeout=args.timeout,
            on_deploy_progress=deploying.update,
        )
    if args.deploy:
        return Output(
            {"containerImage": image},
            (
                (
                    f"pushed, registered and deployed {image.image} ({image.digest}) to "
                    f"{args.service_name}"
                ),
            ),
        )
    return Output(
        {"containerImage": image},
        (f"pushed and registered {image.image} ({image.digest}) - {_use(image)}",),
    )


def _deploy(args: Arguments, client: Client) -> Output:
    image = _image_to_deploy(args, client)
    with _DeployDisplay(sys.stderr) as display:
        deployment = client.deploy_container_image(
            service_name=args.service_name,
            image=image,
            container_name=args.container_name,
            wait=not args.no_wait,
            timeout=args.timeout,
            on_progress=display.update,
        )
    service = client.get_container_services(service_name=args.service_name).container_services
    document = {"containerService": service[0]} if service else None
    images = ", ".join(
        f"{name}={spec.image}" for name, spec in (deployment.containers or {}).items()
    )
    lines = [
        f"deployment {deployment.version} of {args.service_name} is {deployment.state}: {images}"
    ]
    if service and service[0].url:
        lines.append(f"url: {service[0].url}")
    return Output(document, tuple(lines))


def _image_to_deploy(args: Arguments, client: Client) -> str:
    """Return the image named by --image, or by --label [--version] (default: the newest)."""
    if args.deploy_image is not None:
        if args.version is not None:
            raise ParamValidationError(
                "deploy",
                (ValidationProblem.of("version", "usage", "goes with --label, not --image"),),
            )
        return args.deploy_image
    if args.version is not None:
        return str(ImageRef(args.service_name, args.label, args.version))
    images = client.get_container_images(service_name=args.service_name).container_images
    versions = [
        ref.version
        for ref in (_ref_or_none(image) for image in images)
        if ref is not None and ref.label == args.label
    ]
    if not versions:
        raise ParamValidationError(
            "deploy",
            (
                ValidationProblem.of(
                    "label",
                    "image",
                    f"no image is registered under {args.label!r} for {args.service_name}; "
                    "push one first ('lightsail-images push --label ...'), or pass --image",
                ),
            ),
        )
    return str(ImageRef(args.service_name, args.label, max(versions)))


def _ref_or_none(image: ContainerImage) -> ImageRef | None:
    try:
        return image.ref
    except ValueError:
        return None


class _DeployDisplay:
    """Deploy progress on stderr.

    On a terminal one line, redrawn every second; otherwise a line per step.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._last: DeploymentProgress | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._tty and self._last is not None:
            self._stream.write("\n")
            self._stream.flush()

    def update(self, event: DeploymentProgress) -> None:
        """Show one progress event."""
        with self._lock:
            self._last = event
            self._started = time.monotonic() - event.elapsed
            if self._tty:
                self._redraw()
                if self._ticker is None and event.kind not in {"unchanged", "active", "failed"}:
                    self._ticker = threading.Thread(target=self._tick, daemon=True)
                    self._ticker.start()
            else:
                self._stream.write(f"{PROG}: deploy: {event.message} ({event.elapsed:.0f}s)\n")
            self._stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._redraw()
                self._stream.flush()

    def _redraw(self) -> None:
        if self._last is not None:
            elapsed = time.monotonic() - self._started
            self._stream.write(f"\r\x1b[Kdeploying: {self._last.message} ({elapsed:.0f}s)")


class _PushDisplay:
    """Push progress on stderr: one line redrawn in place on a terminal, a line per blob otherwise.

    A few lines of code do the job, so no progress-bar dependency is needed.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._blobs: dict[
            str, tuple[int, int, bool, bool]
        ] = {}  # digest -> size, sent, skipped, done
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tty and self._blobs:
            self._stream.write("\n")
            self._stream.flush()

    def update(self, event: Any) -> None:
        """Record one progress event (a ``PushProgress``) and redraw."""
        with self._lock:
            before = self._blobs.get(event.digest)
            self._blobs[event.digest] = (event.size, event.sent, event.skipped, event.done)
            if self._tty:
                self._stream.write("\r" + self._summary())
            elif event.done and not (before and before[3]):
                short = event.digest.split(":", 1)[-1][:12]
                what = "already in the registry" if event.skipped else "pushed"
                self._stream.write(f"{short}: {_megabytes(event.size)} {what}\n")
            self._stream.flush()

    def _summary(self) -> str:
        done = sum(1 for *_, finished in self._blobs.values() if finished)
        skipped = sum(1 for _, _, skip, _ in self._blobs.values() if skip)
        sent = sum(sent for _, sent, _, _ in self._blobs.values())
        total = sum(size for size, _, skip, _ in self._blobs.values() if not skip)
        return (
            f"pushing: {done}/{len(self._blobs)} blobs done ({skipped} already there), "
            f"{_megabytes(sent)} of {_megabytes(total)} sent "
        )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"must be a whole number, 1 or more, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _push_options(parser: argparse.ArgumentParser) -> None:
    _service_name_option(parser)
    parser.add_argument(
        "--label",
        required=True,
        metavar="LABEL",
        help="the label to register the image under, e.g. web",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=3,
        metavar="N",
        help="blobs to upload at the same time (default 3)",
    )
    parser.add_argument(
        "--insecure-registry",
        action="store_true",
        help=(
            "accept a registry login that names a plain-http registry (a local test "
            "registry only: the password travels unencrypted)"
        ),
    )
    parser.add_argument(
        "--deploy",
        action="store_true",
        help="then deploy the image (as the deploy command does) and wait until it is active",
    )
    _wait_options(parser)
    parser.add_argument(
        "source",
        metavar="PATH",
        help="an OCI image layout directory, an OCI archive (.tar), or a 'docker save' tarball",
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        msg = f"must be a number of seconds greater than 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--container-name",
        metavar="NAME",
        help="the container to put the image in (default: every container running an "
        "image of the same label)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the deployment, in all (default {DEFAULT_TIMEOUT:g})",
    )


def _deploy_options(parser: argparse.ArgumentParser) -> None:
    _service_name_option(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--image",
        dest="deploy_image",
        metavar="IMAGE",
        help="the image to run, e.g. :my-service.web.7 (or a public image with --container-name)",
    )
    which.add_argument(
        "--label",
        metavar="LABEL",
        help="run the newest image registered under this label (or --version N of it)",
    )
    parser.add_argument(
        "--version",
        type=_positive_int,
        metavar="N",
        help="with --label: the version to run instead of the newest",
    )
    _wait_options(parser)
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="return once the deployment is created, without waiting for it to be active",
    )


def _service_name_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service-name",
        required=True,
        metavar="NAME",
        help="the container service, e.g. my-service",
    )


def _image_options(parser: argparse.ArgumentParser) -> None:
    _service_name_option(parser)
    parser.add_argument(
        "--label",
        required=True,
        metavar="LABEL",
        help="the image's label, e.g. web; each registration under it gets the next version",
    )
    parser.add_argument(
        "--digest",
        required=True,
        metavar="DIGEST",
        help="the pushed image's digest, sha256: followed by 64 lowercase hex digits",
    )


def _delete_options(parser: argparse.ArgumentParser) -> None:
    _service_name_option(parser)
    parser.add_argument(
        "--image",
        required=True,
        metavar="IMAGE",
        help="the registered image to delete, e.g. :my-service.web.1",
    )


def _prune_options(parser: argparse.ArgumentParser) -> None:
    _service_name_option(parser)
    parser.add_argument(
        "--keep",
        required=True,
        type=int,
        metavar="N",
        help="how many of the newest versions of each label to keep (0 or more)",
    )
    parser.add_argument(
        "--label",
        dest="only_label",
        metavar="LABEL",
        help="prune only this label (default: every label)",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="delete for real; without it, only report what would be deleted",
    )


def _no_options(_parser: argparse.ArgumentParser) -> None:
    """Take no options beyond the global ones."""


COMMANDS: tuple[Command, ...] = (
    Command(
        "register",
        "register a pushed image under a label (the next version)",
        "Register a pushed image with a container service under a label.  Each "
        "registration under the same label gets the next version number, "
        "':<service>.<label>.<version>'.  Like 'aws lightsail register-container-image'.",
        _register,
        _image_options,
    ),
    Command(
        "list",
        "list the images registered to a container service",
        "List the images registered to a container service, newest first.  Like "
        "'aws lightsail get-container-images'.",
        _list,
        _service_name_option,
    ),
    Command(
        "delete",
        "delete a registered image",
        "Delete a registered image.  The service refuses (exit 3) while a deployment "
        "uses it.  Like 'aws lightsail delete-container-image'.",
        _delete,
        _delete_options,
    ),
    Command(
        "ensure",
        "register an image unless that digest is already registered under the label",
        "Register an image under a label unless the same digest is already registered "
        "there; either way, print the image.  Safe to re-run in a pipeline: it never "
        "creates a second version of one digest.",
        _ensure,
        _image_options,
    ),
    Command(
        "prune",
        "delete all but the newest N versions of each label (dry run by default)",
        "Delete all but the newest N versions of each label.  Images used by the "
        "current or next deployment are never deleted.  Without --yes this is a dry "
        "run that only reports what it would delete.",
        _prune,
        _prune_options,
    ),
    Command(
        "push",
        "push an image from disk to your Lightsail registry and register it (no Docker)",
        "Push an image from an OCI layout, an OCI archive or a 'docker save' tarball "
        "to your Lightsail registry and register it under a label, with no Docker "
        "daemon.  Re-running with the same image registers nothing new.  Replaces "
        "'docker push' plus 'aws lightsail push-container-image'.  With --deploy it then "
        "deploys the image and waits until it is active (exit 6 if the deployment fails, "
        "7 on --timeout).",
        _push,
        _push_options,
    ),
    Command(
        "deploy",
        "run a registered image on the service: swap it into the current deployment and wait",
        "Deploy a registered image: the current deployment with only the image changed "
        "(in --container-name, or in every container running an image of the same "
        "label), then wait until it is active.  Re-running with the same image creates "
        "nothing new; a deployment still activating is waited for first.  --output json "
        "prints the service like 'aws lightsail create-container-service-deployment'.  "
        "Exit 6 if the deployment fails (its containers' last log lines are printed), 7 if "
        "it has not settled by --timeout (it may still finish).",
        _deploy,
        _deploy_options,
    ),
    Command(
        "registry-login",
        "create temporary credentials for pushing to your Lightsail registry",
        "Create temporary (12 hour) credentials for pushing images to your Lightsail "
        "registry.  Text output hides the password; --output json prints it, as "
        "'aws lightsail create-container-service-registry-login' does.",
        _registry_login,
        _no_options,
    ),
)


# --- errors: exit codes and messages -----------------------------------------------------


_LOCAL_EXIT_CODES: Mapping[type[BaseException], ExitCode] = {
    ParamValidationError: ExitCode.USAGE,
    DeploymentFailedError: ExitCode.DEPLOYMENT_FAILED,
    DeploymentTimeoutError: ExitCode.DEPLOYMENT_TIMEOUT,
}


def exit_code_for(error: BaseException) -> ExitCode:
    """Return the exit code for an exception that ended a command."""
    for cls, code in _LOCAL_EXIT_CODES.items():
        if isinstance(error, cls):
            return code
    push_error = _push_exit_code(error)
    if push_error is not None:
        return push_error
    if isinstance(error, ServiceError):
        return ExitCode.FAILED if error.http_status_code >= 500 else ExitCode.REJECTED  # noqa: PLR2004
    if isinstance(error, (TransportError, MalformedResponseError)):
        return ExitCode.FAILED
    if isinstance(error, ConfigurationError):
        return ExitCode.CONFIGURATION
    return ExitCode.INTERNAL


def _push_exit_code(error: BaseException) -> ExitCode | None:
    if isinstance(error, ImageSourceError):
        return ExitCode.USAGE  # the image on disk: wrong platform, unreadable
    if isinstance(error, RegistryAuthError):
        return ExitCode.REJECTED
    if isinstance(error, RegistryError):
        status = error.http_status_code
        if status is not None and 400 <= status < 500:  # noqa: PLR2004 - the 4xx range
            return ExitCode.REJECTED
        return ExitCode.FAILED
    return None


def describe_error(error: BaseException) -> list[str]:
    """Return the lines printed on stderr for an exception: type, message, tip, request id.

    Never includes a traceback (``--debug`` prints one before these lines).
    """
    if not isinstance(error, LightsailError):
        return [
            f"{PROG}: internal error: {type(error).__name__}: {error}",
            (
                "  this is a bug in lightsail-images; run again with --debug for the "
                "traceback and please report it"
            ),
        ]
    if isinstance(error, ParamValidationError):
        count = _plural(len(error.errors), "invalid parameter")
        return [
            f"{PROG}: error: ParamValidationError: {count}; nothing was sent",
            *(f"  {_problem(problem)}" for problem in error.errors),
        ]
    if isinstance(error, ServiceError):
        name = type(error).__name__
        kind = name if name == error.code else f"{name} ({error.code})"
        attempts = _plural(error.attempts, "attempt")
        details = [
            ("tip", error.tip),
            ("docs", error.docs),
            ("request id", error.request_id),
            ("status", f"HTTP {error.http_status_code}, after {attempts}"),
        ]
        return [f"{PROG}: error: {kind}: {error.message or 'no message'}", *_details(details)]
    details = []
    if isinstance(error, MalformedResponseError):
        details = [
            ("request id", error.request_id),
            ("status", f"HTTP {error.http_status_code}"),
        ]
    elif isinstance(error, ConfigurationError | TransportError):
        # The library's message advises in Python; say the facts and advise in flags.
        tip = _shell_advice(error)
        if tip is not None:
            return [
                f"{PROG}: error: {type(error).__name__}: {error.reason}",
                *_details([("tip", tip)]),
            ]
    return [f"{PROG}: error: {type(error).__name__}: {error}", *_details(details)]


# The one table from the library's names (parameters, Client arguments,
# ClientConfig fields) to what a shell user types.
FLAGS: Mapping[str, str] = {
    "service_name": "--service-name",
    "label": "--label",
    "digest": "--digest",
    "image": "--image",
    "keep": "--keep",
    "source": "PATH",
    "max_workers": "--jobs",
    "container_name": "--container-name",
    "timeout": "--timeout",
    "deploy_timeout": "--timeout",
    "version": "--version",
    "region_name": "--region",
    "profile_name": "--profile",
    "endpoint_url": "--endpoint-url",
    "connect_timeout": "--cli-connect-timeout",
    "read_timeout": "--cli-read-timeout",
}


def _problem(problem: ValidationProblem) -> str:
    # Name the option the user typed (--service-name), not the Python keyword.
    flag = FLAGS.get(problem.field)
    return problem.message if flag is None else f"{flag}: {problem.detail}"


def _network_advice(error: TransportError) -> str:
    if error.registry is not None:  # during a push; Lightsail's endpoint was fine
        return (
            f"the registry {error.registry} did not answer: check your network and proxy "
            f"(HTTPS_PROXY) and push again; on a slow network raise {FLAGS['read_timeout']} "
            "(seconds)"
        )
    return (
        f"check {FLAGS['endpoint_url']} (or AWS_ENDPOINT_URL_LIGHTSAIL), your network "
        f"and proxy (HTTPS_PROXY); on a slow network raise {FLAGS['connect_timeout']} "
        f"or {FLAGS['read_timeout']} (seconds)"
    )


def _shell_advice(error: ConfigurationError | TransportError) -> str | None:
    """Return the tip for a configuration or network error, in flags and variables."""
    if isinstance(error, TransportError):
        return _network_advice(error)
    if isinstance(error, NoRegionError):
        return (
            f"pass {FLAGS['region_name']} REGION (for example us-east-1), set AWS_REGION, "
            "or add 'region = ...' to your profile in ~/.aws/config"
        )
    if isinstance(error, NoCredentialsError):
        return (
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass "
            f"{FLAGS['profile_name']} NAME (or set AWS_PROFILE) for a profile made with "
            "'aws configure' or 'aws sso login'"
        )
    if error.setting == "profile_name":
        return (
            f"create it (aws configure --profile {error.value or 'NAME'}), or pass another "
            f"{FLAGS['profile_name']} NAME / set AWS_PROFILE"
        )
    flag = FLAGS.get(error.setting or "")
    if flag is not None:
        return f"fix {flag} or the setting it comes from"
    return None


def _details(pairs: Sequence[tuple[str, str | None]]) -> list[str]:
    present = [(name, value) for name, value in pairs if value]
    width = max((len(name) for name, _ in present), default=0) + 1
    return [f"  {name + ':':<{width}} {value}" for name, value in present]


def _fail(error: BaseException, *, debug: bool) -> int:
    if debug:
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    _say(*describe_error(error))
    return exit_code_for(error)


def _say(*lines: str) -> None:
    """Write lines to stderr, where messages for people go."""
    sys.stderr.write("".join(f"{line}\n" for line in lines))
    sys.stderr.flush()


# --- running -----------------------------------------------------------------------------


def _run_command(command: Command, args: Arguments) -> int:
    try:
        if args.endpoint_url is not None:
            # Checked here too, so that the message names the flag the user typed.
            check_endpoint_url(args.endpoint_url, "--endpoint-url")
        with Client(
            args.region,
            endpoint_url=args.endpoint_url,
            profile_name=args.profile,
            config=_client_config(args),
        ) as client:
            timestamps = _timestamp_format(args) if args.output == "json" else "iso8601"
            output = command.run(args, client)
    except Exception as error:  # noqa: BLE001 - every failure becomes an exit code and a message
        return _fail(error, debug=args.debug)
    sys.stdout.write(render(output, args.output, timestamps))
    sys.stdout.flush()
    return ExitCode.OK


def _timestamp_format(args: Arguments) -> str:
    # The AWS CLI reads this from the profile only (no variable, no flag).
    value = profile_setting("cli_timestamp_format", profile_name=args.profile)
    if value is None:
        return "iso8601"  # the AWS CLI v2 default
    if value not in TIMESTAMP_FORMATS:
        reason = (
            f"the profile setting cli_timestamp_format is {value!r}; the AWS CLI "
            "accepts iso8601 or wire (v2), none (v1)"
        )
        raise ConfigurationError(
            f"{reason}: fix it in ~/.aws/config",
            reason=reason,
            setting="cli_timestamp_format",
            value=value,
        )
    return value


def _client_config(args: Arguments) -> ClientConfig:
    config = ClientConfig()
    if args.cli_connect_timeout is not None:
        config = attrs.evolve(config, connect_timeout=args.cli_connect_timeout)
    if args.cli_read_timeout is not None:
        config = attrs.evolve(config, read_timeout=args.cli_read_timeout)
    return config


def _seed_deployments(fake: Any, specs: Sequence[str]) -> None:
    """Give fake services a current deployment from ``SERVICE/CONTAINER=IMAGE[@PORT]`` specs.

    A registered image name (``:svc.web.2``) is registered first, with made-up
    digests, up to its version; the first container with a port gets the
    public endpoint.  Raises ValueError or LookupError with the spec at fault.
    """
    deployments: dict[str, dict[str, Container]] = {}
    for spec in specs:
        service, slash, rest = spec.partition("/")
        container, equals, image = rest.partition("=")
        image, at, port = image.rpartition("@") if "@" in image else (image, "", "")
        if not (slash and equals and container and image) or (at and not port.isdigit()):
            msg = (
                f"{spec!r} is not SERVICE/CONTAINER=IMAGE[@PORT], "
                "e.g. my-svc/web=:my-svc.web.1@8080"
            )
            raise ValueError(msg)
        if image.startswith(":"):
            ref = ImageRef.parse(image)
            while len([i for i in fake.images(service) if i.ref.label == ref.label]) < ref.version:
                fake.register_image(service, ref.label, "sha256:" + secrets.token_hex(32))
        deployments.setdefault(service, {})[container] = Container(
            image=image, ports={port: "HTTP"} if port else {}
        )
    for service, containers in deployments.items():
        endpoint = next(
            (
                EndpointRequest(container_name=name, container_port=int(next(iter(spec.ports))))
                for name, spec in containers.items()
                if spec.ports
            ),
            None,
        )
        fake.set_deployment(service, containers, public_endpoint=endpoint)


def _serve_fake(args: Arguments) -> int:
    """Run a FakeLightsail over HTTP until SIGINT or SIGTERM."""
    from lightsail_images.testing import FakeLightsail  # noqa: PLC0415 - only this command

    region = args.region or FAKE_SERVER_REGION
    fake = FakeLightsail(region)
    try:
        for name in args.service or ():
            fake.add_container_service(name)
    except ParamValidationError as error:
        _say(*(f"{PROG} fake-server: error: --service: {p.detail}" for p in error.errors))
        return ExitCode.USAGE
    except ValueError as error:
        _say(f"{PROG} fake-server: error: --service: {error}")
        return ExitCode.USAGE
    try:
        _seed_deployments(fake, args.deployment or ())
    except (LookupError, ValueError) as error:
        _say(f"{PROG} fake-server: error: --deployment: {error}")
        return ExitCode.USAGE
    stop = threading.Event()
    with _stop_on_signals(stop), contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(fake.serve(args.host, args.port))
        except OSError as error:
            _say(f"{PROG} fake-server: error: cannot listen on {args.host}:{args.port}: {error}")
            return ExitCode.CONFIGURATION
        info = {
            "endpoint_url": url,
            "region_name": region,
            "aws_access_key_id": fake.access_key_id,
            "aws_secret_access_key": fake.secret_access_key,
        }
        # The first stdout line is the contract: one JSON object, flushed at once.
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        services = ", ".join(args.service or ()) or "none"
        _say(
            f"{PROG}: fake Lightsail at {url} (region {region}, services: {services}); "
            "stop it with Ctrl-C or SIGTERM"
        )
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stop.is_set():
            stop.wait(0.5)
    _say(f"{PROG}: fake Lightsail stopped")
    return ExitCode.OK


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Generator[None, None, None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    wanted = [signal.SIGINT, signal.SIGTERM]
    previous = {signum: signal.signal(signum, handler) for signum in wanted}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def _debug_logging(*, enabled: bool) -> Generator[None, None, None]:
    if not enabled:
        yield
        return
    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# --- the parser --------------------------------------------------------------------------

_EPILOG = """\
credentials and region come from the usual AWS chain: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL_LIGHTSAIL, AWS_MAX_ATTEMPTS, ~/.aws/config, SSO, instance roles.

exit codes:
  0    success
  1    unexpected internal error (a bug; --debug shows the traceback)
  2    bad arguments, or a parameter the API does not accept (nothing was sent)
  3    the service rejected the request (e.g. NotFoundException)
  4    the service or the network failed, after retries
  5    configuration: no region, no credentials, unknown profile, bad endpoint URL
  6    deploy: the deployment failed (the previous one keeps running)
  7    deploy: the deployment had not settled before --timeout (it may still finish)
  130  interrupted
"""


def _global_options(*, subcommand: bool) -> argparse.ArgumentParser:
    # The same options are accepted before and after the subcommand.  The
    # subcommand's copies default to SUPPRESS so that they only override the
    # top level's when given (argparse copies every subparser default over).
    def default(value: object) -> object:
        return argparse.SUPPRESS if subcommand else value

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--region",
        default=default(None),
        metavar="REGION",
        help="the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region)",
    )
    group.add_argument(
        "--profile",
        default=default(None),
        metavar="NAME",
        help="a profile from ~/.aws/config (default: AWS_PROFILE, else 'default')",
    )
    group.add_argument(
        "--endpoint-url",
        default=default(None),
        metavar="URL",
        help="send requests here (default: AWS_ENDPOINT_URL_LIGHTSAIL, AWS_ENDPOINT_URL, "
        "the regional endpoint)",
    )
    group.add_argument(
        "--cli-connect-timeout",
        type=_seconds,
        default=default(None),
        metavar="SECONDS",
        help="the longest wait to connect (default 60), as in the AWS CLI",
    )
    group.add_argument(
        "--cli-read-timeout",
        type=_seconds,
        default=default(None),
        metavar="SECONDS",
        help="the longest wait for data from the service (default 60), as in the AWS CLI",
    )
    group.add_argument(
        "--output",
        choices=("json", "text"),
        default=default("text"),
        help="json (like the AWS CLI) or text (default: text)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),  # noqa: FBT003 - argparse's default
        help="log requests (DEBUG) and show tracebacks, on stderr",
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        # The AWS CLI reads 0 as "wait forever"; a hung connection should not.
        msg = f"must be a number of seconds above 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:  # noqa: PLR2004 - the largest TCP port
        msg = f"must be a TCP port number 0-65535 (0 picks a free one), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return port


class _HelpFormatter(argparse.HelpFormatter):
    """Wrap descriptions to the terminal like option help; keep laid-out text (the epilog)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:  # laid out by hand: the exit-code table
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser for every subcommand."""
    formatter = _HelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Register and manage Amazon Lightsail container images.",
        epilog=_EPILOG,
        formatter_class=formatter,
        parents=[_global_options(subcommand=False)],
        allow_abbrev=False,  # a new option must never change what an abbreviation means
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(
            command.name,
            help=command.summary,
            description=command.description,
            epilog=_EPILOG,
            formatter_class=formatter,
            parents=[_global_options(subcommand=True)],
            allow_abbrev=False,
        )
        command.options(sub)
        sub.set_defaults(handler=functools.partial(_run_command, command))
    fake = commands.add_parser(
        "fake-server",
        help="run an offline, in-memory Lightsail on loopback, for demos and tests",
        description="Serve lightsail_images.testing.FakeLightsail over HTTP in the foreground.  "
        "The first line on stdout is one JSON object with endpoint_url, region_name, "
        "aws_access_key_id and aws_secret_access_key (the fake's, not real secrets).  "
        "Stops cleanly, exit 0, on SIGINT (Ctrl-C) or SIGTERM.",
        formatter_class=formatter,
        allow_abbrev=False,
    )
    fake.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    fake.add_argument(
        "--port", type=_port, default=0, help="port to listen on (default 0: a free port)"
    )
    fake.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="create an empty container service; repeat for more",
    )
    fake.add_argument(
        "--deployment",
        action="append",
        metavar="SERVICE/CONTAINER=IMAGE[@PORT]",
        help="give a --service a current deployment with this container (repeat for more "
        "containers); ':svc.web.2' registers the image first; the first container with a "
        "port gets the public endpoint, e.g. my-svc/web=:my-svc.web.1@8080",
    )
    fake.add_argument(
        "--region",
        default=argparse.SUPPRESS,
        metavar="REGION",
        help=f"the region the fake serves (default {FAKE_SERVER_REGION})",
    )
    fake.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log every request on stderr",
    )
    fake.set_defaults(handler=_serve_fake)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Example::

        from lightsail_images._cli import main

        code = main(["list", "--service-name", "my-svc", "--output", "json"])
    """
    try:
        try:
            args = build_parser().parse_args(argv, namespace=Arguments())
        except SystemExit as exit_:  # --help, --version and usage errors; already printed
            return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
        with _debug_logging(enabled=args.debug):
            return args.handler(args)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


def run() -> NoReturn:
    """Run the ``lightsail-images`` command (and ``python -m lightsail_images``), then exit.

    The interpreter's exit ends with garbage collections that walk every
    object still alive, most of them the dependencies' module state: about
    25 ms, a sixth of a short command.  A command's process is its own, so
    after :func:`main` it freezes what is alive (``gc.freeze``) and the
    exit skips it; files, ``atexit`` handlers and the standard streams are
    flushed and closed as usual.  :func:`main`, for callers in their own
    process, leaves the garbage collector alone.
    """
    code = main()
    gc.freeze()
    sys.exit(code)
