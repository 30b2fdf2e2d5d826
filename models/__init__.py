"""The catalog of CodeGen checkpoints, download and the local store."""
