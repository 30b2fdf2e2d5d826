"""Documents that look like secrets, which the model never reads unless the user opts in (completeSecretFiles).

A key or a `.env` opened in the editor would otherwise be tokenized and, with
a team's server, sent over the network. Copilot and Tabby keep such lists;
this one is by file name, whatever language the editor gives the file.
"""

from __future__ import annotations

import fnmatch
import posixpath
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
    """Whether the document's file name is one of SECRET_NAMES (compared without case)."""
    path = unquote(urlsplit(uri).path) if "://" in uri else uri
    name = posixpath.basename(path.replace("\\", "/")).lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_NAMES)
