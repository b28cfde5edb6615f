"""The `vector` library, imported when first needed and without its SymPy backend.

`import vector` also imports SymPy when it is installed (0.3 s, a third of a converter's start-up)
for symbolic vectors EventLab never uses; hiding SymPy during that one import skips it. SymPy
itself stays importable afterwards.
"""

from __future__ import annotations

import sys
from functools import cache
from types import ModuleType


@cache
def vector_module() -> ModuleType:
    """The imported `vector` module (numpy backends only unless SymPy was already loaded)."""
    hide = "sympy" not in sys.modules
    if hide:
        sys.modules["sympy"] = None  # makes `import sympy` inside vector raise ImportError
    try:
        import vector
    finally:
        if hide:
            del sys.modules["sympy"]
    return vector
