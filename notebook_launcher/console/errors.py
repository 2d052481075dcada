"""The command-line tool's errors and exit codes, defined once.

Each error is a `click.ClickException`, so click prints "Error: <message>" on stderr and
exits with the error's code; no command formats or exits on its own.
"""

from __future__ import annotations

from enum import IntEnum

import click


class ExitCode(IntEnum):
    """What a command's exit status means."""

    OK = 0
    FAILED = 1  # the function answered an error, or the run ended other than SUCCEEDED
    USAGE = 2  # click's own code for bad arguments
    UNAVAILABLE = 3  # the target (local service or OCI) could not be reached or used
    TIMEOUT = 4  # `wait` gave up before the run ended
    INTERRUPTED = 130  # Ctrl-C


class ConsoleError(click.ClickException):
    """A failure the tool reports in one line and exits on."""

    exit_code = ExitCode.FAILED


class TargetUnavailableError(ConsoleError):
    """The local service is not running or cannot be reached, or OCI cannot be used."""

    exit_code = ExitCode.UNAVAILABLE


class ServiceRefusedError(ConsoleError):
    """Data Science (local or OCI) answered a call with an error."""

    exit_code = ExitCode.FAILED


class WaitTimeoutError(ConsoleError):
    """The run did not reach a terminal state within `--timeout`."""

    exit_code = ExitCode.TIMEOUT


def connection_errors() -> tuple[type[BaseException], ...]:
    """What the oci SDK and requests raise when a service cannot be reached (the SDK
    raises its vendored copy of requests' exceptions, not requests' own)."""
    import requests
    from oci._vendor.requests.exceptions import RequestException as SdkRequestException

    return (requests.exceptions.RequestException, SdkRequestException)
