"""Build hook: the wheel carries the worked example of ``mappings/`` as ``kbgraph/examples/``.

``mappings/`` stays the one copy in the repository (the README and the tests point at it); the
wheel gets it as package data, so ``pip install kbgraph`` and then ``kbgraph demo`` work outside a
checkout. Everything else is declared in pyproject.toml.
"""

from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLE = Path(__file__).resolve().parent / "mappings"
EXAMPLE_FILES = ("*.yaml", "*.sql", "*.jsonl")


class BuildWithExample(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install finds the example in the checkout
        target = Path(self.build_lib) / "kbgraph" / "examples"
        target.mkdir(parents=True, exist_ok=True)
        copied = [f for pattern in EXAMPLE_FILES for f in sorted(EXAMPLE.glob(pattern))]
        if not copied:
            raise SystemExit(f"the example is missing: no {', '.join(EXAMPLE_FILES)} in {EXAMPLE}")
        for f in copied:
            shutil.copy2(f, target / f.name)


setup(cmdclass={"build_py": BuildWithExample})
