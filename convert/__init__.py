"""Turn Salesforce CodeGen checkpoints into GGUF files that stock llama.cpp runs."""
