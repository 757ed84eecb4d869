"""Import an example script as a module (examples/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.cli.proc import ROOT


def load_example(name: str) -> ModuleType:
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"examples_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
