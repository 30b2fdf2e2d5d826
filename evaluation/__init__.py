"""Reproducing the CodeGen paper's evaluations on this machine: HumanEval, MTPB, perplexity."""
