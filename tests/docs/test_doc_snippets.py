"""Every Python snippet in README.md and docs/*.md runs (in order, one namespace per file) against the sandbox.

Python snippets are ```python blocks, and the Python a ```bash block writes with a quoted here-document
(``cat > "$AIRFLOW__CORE__DAGS_FOLDER/x.py" <<'EOF'`` or ``python - <<'EOF'``, as in the README's tour).

Snippets that build DAGs are checked to produce DAGs and operators without errors; snippets that call
the hook really send to the sandbox (the docs' default address ``http://127.0.0.1:8787`` is replaced
by the test sandbox's).
"""

from __future__ import annotations

import re
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^([ \t]*)```(python|bash)\n(.*?)^\1```", re.DOTALL | re.MULTILINE)
PY_HEREDOC = re.compile(r"^.*(?:\.py\b|\bpython\b).*<<'EOF'\n(.*?)^EOF$", re.DOTALL | re.MULTILINE)


def snippets(path: Path) -> list[str]:
    """The Python of a Markdown file, in order, dedented (blocks inside list items are indented)."""
    found = []
    for m in BLOCK.finditer(path.read_text()):
        code = textwrap.dedent(m.group(3))
        found += [code] if m.group(2) == "python" else [h.group(1) for h in PY_HEREDOC.finditer(code)]
    return found


SELF_CHECKING = {"sandbox.md"}  # its snippet asserts its own result
DOCS_WITH_CODE = [p for p in DOCS if snippets(p)]


def test_the_docs_have_snippets_to_check():
    assert len(DOCS_WITH_CODE) >= 7
    assert len(snippets(ROOT / "README.md")) >= 3


@pytest.mark.parametrize("path", DOCS_WITH_CODE, ids=lambda p: p.name)
def test_snippets_run(path: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"doc_{path.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(DagContext, "current_autoregister_module_name", module.__name__)  # as a DAG file
    monkeypatch.setattr(DagContext, "autoregistered_dags", set())
    for number, code in enumerate(snippets(path), start=1):
        code = code.replace("http://127.0.0.1:8787", sandbox.url)  # the docs use the sandbox's default port
        code = code.replace('"sandbox-key"', repr(sandbox.api_key))  # and its default key (MTA_TEST_API_KEY)
        try:
            exec(compile(code, f"{path.name}#snippet{number}", "exec"), module.__dict__)
        except Exception as exc:
            pytest.fail(f"{path.name} snippet {number} failed: {type(exc).__name__}: {exc}\n{code}")
    dags = [dag for dag, mod in DagContext.autoregistered_dags if mod is module]
    sent = sandbox.messages()
    assert dags or sent or path.name in SELF_CHECKING, f"{path.name}: the snippets built no DAG and sent nothing"
    for dag in dags:
        assert dag.task_dict, f"{path.name}: DAG {dag.dag_id} has no tasks"
