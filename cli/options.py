"""Option types shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cga.assistant.opening import REMOTE_ENV
from cga.core.limits import MAX_THREADS

Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        "-t",
        min=1,
        max=MAX_THREADS,
        help="CPU threads (default: the physical cores, one left free above four).",
    ),
]
MpNum = Annotated[
    int | None,
    typer.Option("--mp-num", help="qkv block count of the checkpoint (default: 8 for codegen2-1B/3_7B, else 4)."),
]
CheckpointDir = Annotated[
    Path, typer.Argument(help="Checkpoint folder with config.json and the weights.", show_default=False)
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        show_default=False,
        help="A .gguf file or an installed model's name (default: the largest installed CodeGen model, "
        "else the embedded SmolLM2-135M).",
    ),
]
MaxTokens = Annotated[int, typer.Option("--max-tokens", "-n", min=1, max=8192, help="Most tokens to generate.")]
Temperature = Annotated[float, typer.Option("--temperature", min=0.0, max=2.0, help="0 means greedy.")]
GpuLayers = Annotated[str, typer.Option("--gpu-layers", help="Layers on the GPU: auto, all, none or a number.")]
RemoteUrl = Annotated[
    str | None,
    typer.Option(
        envvar=REMOTE_ENV,
        help="Use a completion server at this URL: llama.cpp's llama-server, llama-cpp-python's server or "
        "any OpenAI-compatible one (or remote_url in config.toml).",
    ),
]
