"""Errors of the model store, each with the sentence a user acts on."""

from __future__ import annotations

from assistant.errors import EngineError


class StoreError(EngineError):
    """A model cannot be pulled, imported or removed."""


class HubUnreachable(StoreError):
    """The hub cannot be reached: offline mode, no network, or the endpoint is down."""
