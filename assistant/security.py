"""A security look at code the model wrote: bandit's checks, reported as one line each, never blocking.

The CodeGen paper names the risk that a code model reproduces insecure patterns
(shell=True with user input, eval, pickle from untrusted data, weak hashes); bandit
(PyCQA) is the well-kept checker for Python. Medium and high severity findings are
shown; low ones (an `import pickle`, an `assert`) would drown them out.
"""

from __future__ import annotations

import logging
import tempfile
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

SHOWN = ("MEDIUM", "HIGH")
# bandit's plugin loader logs optional formatters it cannot load (sarif); a chat user has no use for that.
for _name in ("stevedore", "bandit"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Finding:
    line: int  # 1-based, in the code given
    test_id: str  # bandit's, e.g. B602
    severity: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text} ({self.test_id}, {self.severity.lower()} severity)"


def findings(code: str, language: str = "python", lines: range | None = None) -> list[Finding]:
    """What bandit finds in Python code (dedented, so a method body is checked too); within lines if given.

    Code that does not parse yields nothing: the check is a warning, not a gate.
    """
    if language != "python" or not code.strip():
        return []
    with tempfile.TemporaryDirectory(prefix="cga-review-") as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bandit's plugin loader warns of its own deprecations
        from bandit.core import config, manager

        source = Path(folder) / "answer.py"
        source.write_text(textwrap.dedent(code), encoding="utf-8")
        checker = manager.BanditManager(config.BanditConfig(), "file", quiet=True)
        checker.discover_files([str(source)])
        checker.run_tests()
        issues = checker.get_issue_list()
    found = [
        Finding(issue.lineno, issue.test_id, issue.severity, issue.text)
        for issue in issues
        if issue.severity in SHOWN and issue.confidence in SHOWN
    ]
    return [f for f in found if lines is None or f.line in lines]
