"""The example in docs/testing.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def example() -> str:
    """The first python block of docs/testing.md (the one the page calls an example)."""
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.M | re.S)
    assert blocks, "docs/testing.md has no python block"
    return str(blocks[0])


async def test_the_documented_example_passes() -> None:
    namespace: dict[str, Any] = {"__name__": "docs_testing_example"}
    exec(compile(example(), str(DOC), "exec"), namespace)
    tests = [v for k, v in namespace.items() if k.startswith("test_") and callable(v)]
    assert len(tests) == 1
    await tests[0]()
