"""Build the notebooks from their sources: each `NN_name.py` (cells marked `# %%`, markdown cells
`# %% [markdown]`, as Jupyter's jupytext and VS Code read them) becomes `NN_name.ipynb`.

    python examples/notebooks/build.py            # write the .ipynb files, executed (outputs, plots)
    python examples/notebooks/build.py --check    # fail when an .ipynb's cells differ from its source

The sources are what reviewers read and edit; the .ipynb files carry the outputs so the pictures
show on the repository's pages. `python/tests/test_notebooks.py` checks they are up to date and
executes each one (nbclient, no network).
"""
import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent


def cells_of(source: str) -> list:
    cells, kind, lines = [], None, []

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code" and text:
            cells.append(nbformat.v4.new_code_cell(text))

    for line in source.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    return cells


def notebook(py: pathlib.Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=cells_of(py.read_text()))
    for i, c in enumerate(nb.cells):
        c.id = f"c{i:02d}"  # stable ids: a rebuild changes only what changed
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 900) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


def sources() -> list:
    return sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for py in sources():
        out = py.with_suffix(".ipynb")
        want = notebook(py)
        if check:
            have = nbformat.read(out, as_version=4) if out.exists() else None
            if have is None or [(c.cell_type, c.source) for c in have.cells] != [(c.cell_type, c.source) for c in want.cells]:
                stale.append(out.name)
            continue
        nbformat.write(execute(want), out)
        print("wrote", out.relative_to(HERE.parent.parent))
    if stale:
        print("out of date (run python examples/notebooks/build.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
