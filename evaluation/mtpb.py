"""The Multi-Turn Programming Benchmark (MTPB) of the CodeGen paper: multi-turn vs single-turn.

115 problems (data/mtpb.jsonl, BSD-3, Salesforce; see data/LICENSE.txt), each
a few prompts with 5 test inputs. Multi-turn, as in the paper: the history
starts with the chat's PYTHON_HEADER (`# Import libraries.` and numpy); each turn adds
`# <prompt>\\n`, samples (temperature 0.2, top-p 0.95, at most the problem's
max_gen_length tokens), truncates and adds the code plus a blank line.
Single-turn: every prompt at once as consecutive comment lines, one sample
of the summed length, cut only where generation ends (end of text, a
docstring opener, two blank lines): a one-shot program may define several
functions and print in between. A program passes when its last printed line
equals the gold output (floats to 1e-6).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cga.assistant.answer_code import code_of_continuation
from cga.assistant.conversation import PYTHON_HEADER, Conversation
from cga.assistant.stopping import truncate_program

from .generator import Generator, Sampling, in_order
from .sandbox import Limits, run_program
from .verdict import judge, wrong_output

DATA = Path(__file__).parent / "data" / "mtpb.jsonl"
DEFAULT_GEN_LENGTH = 128  # FORMAT.md: "mostly 128"; a few problems leave it out


class BadData(ValueError):
    """The benchmark file is not what MTPB's format says."""


@dataclass(frozen=True)
class Problem:
    id: str
    name: str
    prompts: list[str]
    inputs: list[dict]
    outputs: list
    max_gen_length: int

    def turns(self, case: int) -> list[str]:
        """The prompts with the test case's values filled into their {placeholders}."""
        values = self.inputs[case]
        return [
            re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), p)
            for p in self.prompts
        ]


MAX_GEN_LENGTH = 32768


def load_problems(path: Path = DATA, limit: int | None = None) -> list[Problem]:
    problems = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadData(f"{path} is not UTF-8 text (bad byte at offset {exc.start}).") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            problem = Problem(
                str(raw["id"]),
                raw["name"],
                list(raw["prompts"]),
                list(raw["inputs"]),
                list(raw["outputs"]),
                int(raw.get("max_gen_length", DEFAULT_GEN_LENGTH)),
            )
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
            raise BadData(f"{path}, line {number}: not an MTPB problem ({exc}); see FORMAT.md beside it.") from None
        if not problem.inputs or not problem.outputs or not problem.prompts:
            raise BadData(f"{path}, line {number}: a problem needs prompts, inputs and outputs.")
        if not all(isinstance(p, str) for p in problem.prompts) or not all(isinstance(i, dict) for i in problem.inputs):
            raise BadData(f"{path}, line {number}: prompts must be text and each input an object of values.")
        if not 1 <= problem.max_gen_length <= MAX_GEN_LENGTH:
            raise BadData(f"{path}, line {number}: max_gen_length must be 1 to {MAX_GEN_LENGTH} tokens.")
        problems.append(problem)
    return problems[:limit] if limit else problems


def same(printed, gold) -> bool:
    if isinstance(gold, bool) or isinstance(printed, bool):
        return printed == gold
    if isinstance(gold, (int, float)) and isinstance(printed, (int, float)):
        return math.isclose(printed, gold, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(gold, (list, tuple)) and isinstance(printed, (list, tuple)):
        return len(gold) == len(printed) and all(same(p, g) for p, g in zip(printed, gold, strict=True))
    if isinstance(gold, dict) and isinstance(printed, dict):
        return gold.keys() == printed.keys() and all(same(printed[k], gold[k]) for k in gold)
    return printed == gold


def output_matches(stdout: str, gold) -> bool:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return False
    last = lines[-1].strip()
    if isinstance(gold, str) and last == gold:
        return True
    try:
        printed = ast.literal_eval(last)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return str(gold) == last
    return same(printed, gold)


@dataclass
class CaseResult:
    problem: str
    case: int
    mode: str  # "multi" or "single"
    program: str
    passed: bool
    outcome: str = "passed"  # or why not: evaluation/verdict.py
    detail: str = ""


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)

    def pass_rate(self, mode: str) -> float:
        mine = [r for r in self.results if r.mode == mode]
        return sum(r.passed for r in mine) / len(mine) if mine else 0.0


# answer(prompt_so_far, max_tokens) -> the code the model wrote next
Answer = Callable[[str, int], str]


def multi_turn_program(problem: Problem, case: int, answer: Answer) -> str:
    """Turn by turn through the chat's own buffer (assistant/conversation.py) and truncation rule."""
    conversation = Conversation(header=PYTHON_HEADER)
    for turn in problem.turns(case):
        conversation.add(turn, truncate_program(answer(conversation.prompt(turn), problem.max_gen_length)))
    return conversation.program()


def single_turn_program(problem: Problem, case: int, answer: Answer) -> str:
    prompt = Conversation(header=PYTHON_HEADER).prompt("\n".join(problem.turns(case)))
    budget = problem.max_gen_length * len(problem.prompts)
    return prompt + truncate_program(answer(prompt, budget), single_turn=True).rstrip() + "\n"


def evaluate(
    problems: list[Problem],
    answer: Answer,
    modes: tuple[str, ...] = ("multi", "single"),
    limits: Limits = Limits(seconds=10),
    progress: Callable[[int, int], None] | None = None,
    parallel: int = 1,
) -> Report:
    """Every case in every mode; up to `parallel` programs are written at once (each one's turns in order)."""
    report = Report()
    build = {"multi": multi_turn_program, "single": single_turn_program}
    # Pairs only: upstream problem 57 lists 6 outputs for its 5 inputs.
    jobs = [
        (problem, case, gold, mode)
        for problem in problems
        for case, gold in enumerate(problem.outputs[: len(problem.inputs)])
        for mode in modes
    ]
    if progress:
        progress(0, len(jobs))  # at once: the first program takes several answers
    programs = in_order(lambda job: build[job[3]](job[0], job[1], answer), jobs, parallel)
    for (problem, case, gold, mode), code in zip(jobs, programs, strict=True):
        outcome = run_program(code, limits)
        verdict = judge(code, outcome)
        if verdict.passed and not output_matches(outcome.stdout, gold):
            verdict = wrong_output(outcome.stdout, gold)
        report.results.append(CaseResult(problem.id, case, mode, code, verdict.passed, verdict.kind, verdict.detail))
        if progress:
            progress(len(report.results), len(jobs))
    return report


def model_answer(generate: Generator, sampling: Sampling) -> Answer:
    """A chat model continues the program and then closes a fence and explains it: only the code is kept."""
    if generate.chat_model:
        return lambda prompt, max_tokens: code_of_continuation(generate(prompt, max_tokens, sampling))
    return lambda prompt, max_tokens: generate(prompt, max_tokens, sampling)
