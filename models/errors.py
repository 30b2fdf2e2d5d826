"""Errors of the model store, each with the sentence a user acts on."""

from __future__ import annotations

from cga.core.errors import CgaError


class StoreError(CgaError):
    """A model cannot be pulled, imported or removed."""


class HubUnreachable(StoreError):
    """The hub cannot be reached: offline mode, no network, or the endpoint is down."""
