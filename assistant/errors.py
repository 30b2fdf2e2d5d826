"""Errors the engine, chat and backends raise; the CLI turns each into one sentence and an exit code."""

from cga.core.errors import CgaError, ModelLoadError, UserDirError

__all__ = ["EngineError", "ModelNotFound", "ModelLoadError", "PromptTooLong", "UserDirError", "ChatTemplateError"]


class EngineError(CgaError):
    """Base of the failures of generating text (a local model or a server)."""


class ModelNotFound(EngineError):
    """--model names neither a file nor a known model."""


class PromptTooLong(EngineError):
    """The prompt does not fit the model's context with room for an answer."""


class ChatTemplateError(EngineError):
    """The chat template a model file carries failed, or went past the bounds it is rendered within."""
