"""The one check of a completion server's address, wherever it comes from (a flag, the environment,
`config.toml`, the editor's `remoteUrl`), and the one way it is shown: without its password.

A bad address must be one sentence before anything connects, not an InvalidURL or UnicodeError
traceback from deep inside http.client.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass

from cga.core.wording import brief

from .errors import EngineError

MAX_URL_CHARS = 2048


class BadServerUrl(EngineError):
    """The address of a completion server cannot be used as given."""


@dataclass(frozen=True)
class ServerUrl:
    scheme: str
    host: str  # as http.client wants it: an IPv6 address without its brackets
    port: int | None
    path: str  # the base path, without a trailing slash or /v1
    username: str | None = None
    password: str | None = None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host + (f":{self.port}" if self.port is not None else "")

    @property
    def base(self) -> str:
        """The address requests go to (credentials travel in a header, never in the URL)."""
        return f"{self.scheme}://{self.netloc}{self.path}"

    def __str__(self) -> str:
        """The address as it may be shown to the user: a password, or a key given as the user name, never."""
        if self.username and self.password is not None:
            user = f"{self.username}:***@"
        else:
            user = "***@" if self.username or self.password is not None else ""
        return f"{self.scheme}://{user}{self.netloc}{self.path}"

    def authorization(self, api_key: str | None = None) -> str | None:
        """The Authorization header: a key as `Bearer` (what llama-server's --api-key and OpenAI-style servers
        take) from `http://:KEY@host` or `http://KEY@host`, else from api_key (CGA_API_KEY, config.toml);
        `user:password@` as Basic, for a proxy in front of a server."""
        if self.username and self.password is not None:
            secret = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(secret).decode()
        key = self.password or self.username or api_key
        return f"Bearer {key}" if key else None


def redacted(url: str) -> str:
    """Any address as it may appear in a title or message: shortened, and without what could be a password or
    a key (the user name alone can be one)."""
    head, at, tail = url.partition("@")
    if at and "://" in head and "/" not in head.split("://", 1)[1]:  # an @ in the user part, not in the path
        scheme, user = head.split("://", 1)
        name, colon, _ = user.partition(":")
        url = f"{scheme}://{name + ':***' if colon and name else '***'}@{tail}"
    return brief(url)


def shown(url: str) -> str:
    """redacted(url), quoted, as a message quotes what the user gave."""
    return repr(redacted(url))


def parse_server_url(url: str) -> ServerUrl:
    """The address, checked; BadServerUrl says in one sentence what is wrong with it."""
    example = "give the server's base URL, e.g. http://127.0.0.1:8080"
    if len(url) > MAX_URL_CHARS:
        raise BadServerUrl(f"The server address is {len(url):,} characters long; {example}.")
    if any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in url):
        raise BadServerUrl(f"The server address {shown(url)} holds spaces or control characters; {example}.")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadServerUrl(f"{shown(url)} is not a valid URL (look at its brackets and port); {example}.") from None
    if parts.scheme not in ("http", "https"):
        raise BadServerUrl(f"{shown(url)} is not an http(s) URL; {example}.")
    host = parts.hostname or ""
    if not host:
        raise BadServerUrl(f"{shown(url)} names no host; {example}.")
    if parts.query or parts.fragment:
        raise BadServerUrl(f"{shown(url)} has a query or fragment; {example}.")
    if ":" not in host:  # a name, not an IPv6 address: each label as DNS allows
        try:
            host.encode("idna")
        except UnicodeError:
            raise BadServerUrl(
                f"{shown(url)} has a host name DNS cannot hold (a label over 63 characters, or "
                f"an empty one); {example}."
            ) from None
    path = parts.path.rstrip("/").removesuffix("/v1")
    username = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return ServerUrl(parts.scheme, host, port, path, username, password)
