"""The metadata keys our GGUF files carry beyond llama.cpp's own.

Written by convert/writer.py, read by core/model_info.py: one spelling
for both. llama.cpp ignores keys it does not know, so stock llama.cpp runs
the files unchanged.
"""

FAMILY = "codegen.family"  # "codegen1", "codegen2" or "codegen25"
CAN_INFILL = "codegen.can_infill"
SOURCE = "codegen.source"  # the hub id or local path converted
REVISION = "codegen.source_revision"
TOKEN_ID = "codegen.{}_token_id"  # .format("sep"), "eom", "mask_1", "eos", "bos", "fim_prefix", …
