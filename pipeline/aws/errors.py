"""Errors the AWS wrappers raise, so callers never see botocore's exceptions.

`translate` turns any botocore failure into one line that names what is missing and what to
do: a ConfigError (exit 2) for the caller's configuration (credentials, region, endpoint,
permissions), an AwsError (exit 1) for a call that reached AWS and failed. Every wrapper class
is decorated with `guarded`, so whatever a wrapper does not handle itself (paginators, waiters,
transfers included) still leaves it as such a line.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    WaiterError,
)

from pipeline.errors import ConfigError, PipelineError

SANDBOX_HINT = "for the embedded sandbox: `python -m pipeline sandbox up --print-env`"

# Codes AWS answers when the credentials themselves are wrong or stale.
EXPIRED = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "TokenRefreshRequired",
        "InvalidToken",
    }
)
REJECTED = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AuthFailure",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)
DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AllAccessDisabled",
    }
)


class AwsError(PipelineError):
    """An AWS call failed; carries the service's error code."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class NotFound(AwsError):
    """The named resource does not exist."""


class AwsConfigError(ConfigError, AwsError):
    """AWS refused the caller (credentials expired or rejected, access denied). Exit 2."""


def new_client(service: str) -> BaseClient:
    """A boto3 client from the standard chain (AWS_ENDPOINT_URL*, AWS_DEFAULT_REGION, ...)."""
    try:
        client: BaseClient = boto3.client(service)
        return client
    except NoRegionError:
        raise ConfigError(
            f"{service}: no AWS region configured; set AWS_DEFAULT_REGION "
            f"(or AWS_REGION; {SANDBOX_HINT})"
        ) from None
    except ValueError as exc:  # botocore: "Invalid endpoint: ..."
        raise ConfigError(
            f"{service}: {exc}; fix AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_<SERVICE>)"
        ) from None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def configuration_problem(exc: Exception, service: str = "") -> ConfigError | None:
    """The ConfigError for a failure of the caller's setup (credentials, region, endpoint,
    permissions), or None when the call reached AWS and failed on its own terms."""
    where = f"{service}: " if service else ""
    if isinstance(exc, NoCredentialsError):
        return ConfigError(
            f"{where}no AWS credentials found; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (`aws configure` / `aws sso "
            f"login`; {SANDBOX_HINT})"
        )
    if isinstance(exc, PartialCredentialsError):
        return ConfigError(
            f"{where}incomplete AWS credentials ({_one_line(exc)}); set the "
            "missing variable or use a complete profile"
        )
    if isinstance(exc, NoRegionError):
        return ConfigError(
            f"{where}no AWS region configured; set AWS_DEFAULT_REGION "
            f"(or AWS_REGION; {SANDBOX_HINT})"
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
        return ConfigError(
            f"{where}cannot reach {url}; check AWS_ENDPOINT_URL (a stopped "
            "sandbox? start it with `python -m pipeline sandbox up`), the "
            "region and the network"
        )
    code = _code(exc)
    if code in EXPIRED:
        return AwsConfigError(
            f"{where}the AWS credentials have expired ({code}); refresh "
            "them (`aws sso login`, or new session credentials) and run "
            "again",
            code,
        )
    if code in REJECTED:
        return AwsConfigError(
            f"{where}AWS rejected the credentials ({code}); check "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or "
            "AWS_PROFILE, and that they belong to this region's "
            "partition",
            code,
        )
    if code in DENIED:
        action = f"{service}:{exc.operation_name}" if isinstance(exc, ClientError) else service
        return AwsConfigError(
            f"{where}access denied to {action} ({code}: "
            f"{_one_line(_message(exc))}); use credentials whose role "
            "allows it",
            code,
        )
    return None


def _error(exc: Exception) -> dict[str, str]:
    error: dict[str, str] = {}
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
    elif isinstance(exc, WaiterError):  # a waiter's poll answered with an error
        error = (exc.last_response or {}).get("Error", {})
    return error


def _code(exc: Exception) -> str:
    return _error(exc).get("Code", "")


def _message(exc: Exception) -> str:
    return _error(exc).get("Message", "") or str(exc)


def translate(exc: BotoCoreError | ClientError, service: str = "") -> PipelineError:
    """One actionable line for any botocore failure (see the module docstring)."""
    problem = configuration_problem(exc, service)
    if problem is not None:
        return problem
    where = f"{service}: " if service else ""
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        return AwsError(
            f"{where}the connection to {exc.kwargs.get('endpoint_url', 'AWS')} "
            "was lost mid-call (timed out or closed); what the call started may "
            "have happened: check the resource's state, then run again"
        )
    if isinstance(exc, ClientError):
        code = _code(exc)
        return AwsError(
            f"{where}{exc.operation_name} failed ({code}): {_one_line(_message(exc))}", code
        )
    return AwsError(f"{where}{_one_line(exc)}", _code(exc))


def guarded[C: type](service: str) -> Callable[[C], C]:
    """Class decorator: any botocore exception escaping a public method becomes translated."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except (BotoCoreError, ClientError) as exc:
                raise translate(exc, service) from None

        return call

    def decorate(cls: C) -> C:
        for name, member in list(vars(cls).items()):
            if inspect.isfunction(member) and not name.startswith("_"):
                setattr(cls, name, wrap(member))
        return cls

    return decorate
