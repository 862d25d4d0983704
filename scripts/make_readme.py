"""Render nbs/index.ipynb to README.md without Quarto (which `nbdev-readme` needs and this
machine cannot install). `--check` exits 1 when README.md is stale."""
import sys, re, json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _directives(src): return {m.group(1) for m in re.finditer(r'^#\|\s*([\w-]+)', src, re.M)}

def render(nb_path=ROOT/'nbs'/'index.ipynb'):
    "Markdown of a notebook: markdown cells as they are, shown code cells fenced, their text outputs below."
    nb = json.loads(Path(nb_path).read_text())
    parts = ['<!-- generated from nbs/index.ipynb by scripts/make_readme.py: edit the notebook, not this file -->']
    for cell in nb['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown': parts.append(src.strip()); continue
        if cell['cell_type'] != 'code' or {'hide', 'exporti'} & _directives(src): continue
        code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
        if code and 'echo: false' not in src: parts.append(f'```python\n{code}\n```')
        for out in cell.get('outputs', []):
            text = out.get('text') or out.get('data', {}).get('text/plain')
            if text: parts.append('```\n' + ''.join(text).rstrip() + '\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    md, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != md: sys.exit('README.md is stale: run `.venv/bin/python scripts/make_readme.py`')
    else:
        readme.write_text(md); print(f'wrote {readme}')
