"""Errors the converter raises; the CLI turns each into one sentence and an exit code."""

from cga.core.errors import CgaError


class ConvertError(CgaError):
    """Base of every converter failure a user can act on."""


class NotACheckpoint(ConvertError):
    """The source folder is not a Hugging Face checkpoint we can read."""


class UnsupportedModel(ConvertError):
    """The checkpoint is a model this converter does not handle."""


class BrokenCheckpoint(ConvertError):
    """Weights are missing, truncated or disagree with the config."""


class UnsafeCheckpoint(ConvertError):
    """A pickled `.bin` would run code when loaded; it is refused unread."""


class OutputError(ConvertError):
    """The destination cannot be written (exists, not writable, or no room)."""


class QuantizeError(ConvertError):
    """llama.cpp's quantizer failed or the type is unknown."""


class VerifyFailed(ConvertError):
    """The GGUF does not compute what transformers computes, past the thresholds."""
