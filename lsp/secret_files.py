"""Secrets the model never reads: files that look like them, and credentials written into code.

A key or a `.env` opened in the editor would otherwise be tokenized and, with
a team's server, sent over the network. Copilot and Tabby keep such lists;
this one is by file name, whatever language the editor gives the file, and by
the name of the file a link points to. What other files of the project lend
the prompt (imported definitions, chunks of files opened) goes through
without_credentials first: a value assigned to a name like `API_KEY`, or a
string that looks like a key, is not copied.
"""

from __future__ import annotations

import fnmatch
import math
import os
import posixpath
import re
from collections import Counter
from urllib.parse import unquote, urlsplit

SECRET_NAMES = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.gpg",
    "*.asc",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_*_sk",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    "credentials",
    "credentials.json",
    "secrets.*",
    "*.tfvars",
    "*.tfstate",
)


def looks_secret(uri: str) -> bool:
    """Whether the document's file name, or that of the file it links to, is one of SECRET_NAMES (compared
    without case): `settings_link.py -> .env` sent the `.env` to the server."""
    path = unquote(urlsplit(uri).path) if "://" in uri else uri
    if _secret_name(path):
        return True
    if "://" in uri and not uri.startswith("file:"):
        return False  # an untitled buffer or another scheme: no file to follow
    try:
        target = os.path.realpath(path)
    except (OSError, ValueError):
        return False
    return target != path and _secret_name(target)


def _secret_name(path: str) -> bool:
    name = posixpath.basename(path.replace("\\", "/")).lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_NAMES)


# A name a credential is kept under, and an assignment to one (`API_KEY = …`, `token: str = …`, `"password": …`).
_CREDENTIAL_NAME = re.compile(r"key|token|secret|passw|pwd|credential|auth(?!or)|cookie|bearer", re.IGNORECASE)
_ASSIGNMENT = re.compile(
    r"""^(?P<head>[ \t]*["']?(?P<name>[A-Za-z_][\w.-]{0,100})["']?[ \t]*(?::[^=\n]{0,200})?[=:][ \t]*)"""
    r"(?P<value>\S[^\n]*)$",
    re.MULTILINE,
)
# A string given under such a name anywhere on a line: `{"password": "…"}`, `connect(token="…")`.
_NAMED_STRING = re.compile(
    r"""\b(?P<name>[A-Za-z_]\w{0,100})["']?[ \t]*[:=][ \t]*(?P<quote>["'])(?P<body>[^"'\n]{1,400})(?P=quote)"""
)
_STRING = re.compile(r"""(?P<quote>["'])(?P<body>[^"'\s\\]{16,400})(?P=quote)""")
# Prefixes of the keys services hand out: OpenAI, GitHub, Slack, AWS, Google, Hugging Face, a PEM block.
_KEY_PREFIXES = ("sk-", "ghp_", "gho_", "ghs_", "github_pat_", "xoxb-", "xoxp-", "AKIA", "AIza", "hf_", "-----BEGIN")
HIDDEN = "..."


def without_credentials(text: str) -> str:
    """text with the values of credential-named assignments and key-like strings left out (`API_KEY = ...`)."""
    text = _ASSIGNMENT.sub(_hide_assigned, text)
    text = _NAMED_STRING.sub(
        lambda m: (
            m[0][: m.start("body") - m.start()] + HIDDEN + m["quote"] if _CREDENTIAL_NAME.search(m["name"]) else m[0]
        ),
        text,
    )
    return _STRING.sub(lambda m: m["quote"] + HIDDEN + m["quote"] if looks_like_key(m["body"]) else m[0], text)


def _hide_assigned(match: re.Match[str]) -> str:
    if not _CREDENTIAL_NAME.search(match["name"]) or match["value"].startswith(("=", "(")):
        return match[0]  # `==` is a comparison, `(` a call's result, not a value written down
    return match["head"] + HIDDEN


def looks_like_key(value: str) -> bool:
    """A string a service handed out rather than one a person wrote: a known key prefix, or 20+ characters
    without spaces, letters and digits mixed, and nearly random (3.5 bits a character or more)."""
    if value.startswith(_KEY_PREFIXES) and len(value) >= 12:
        return True
    if len(value) < 20 or not any(c.isdigit() for c in value) or not any(c.isalpha() for c in value):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.5
