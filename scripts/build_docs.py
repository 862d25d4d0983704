"""Build the documentation site into `_docs/` without Quarto: `./run docs` (or `.venv/bin/python scripts/build_docs.py`).

nbdev 3's own docs build (`nbdev-docs`) renders with Quarto, which this machine and CI cannot install (PyPI's
`quarto-cli` downloads a binary at install time). The `[tool.nbdev]` config stays Quarto-ready for machines that
have it; this script is the offline build that works everywhere, from PyPI packages only:

1. nbdev's own notebook processors (`nbdev.processors.FilterDefaults`, as `nbdev-proc-nbs` uses them) run on a
   temp copy of each `nbs/NN_*.ipynb`: the title cell becomes the page title, `show_doc` cells are added after
   every exported definition (the API reference), `#| hide` / `#| export` cells are hidden, directives stripped.
2. The copy is EXECUTED top to bottom in a fresh process (`nbdev.test.test_nb`, the same runner as the tests,
   `#| slow` cells skipped), so figures and `show_doc` output are in the page. `nbs/` is never written to.
3. mkdocs + mkdocs-material + mkdocs-jupyter render the processed notebooks and the README (home page) into a
   static site. Why mkdocs-material: it is a maintained pure-PyPI static-site tool with built-in navigation,
   a client-side search that works offline (its `offline` plugin also makes the site work from `file://`), and
   mkdocs-jupyter renders executed notebooks (figures, markdown `show_doc` output) with nbconvert, which
   nbdev already depends on. Sphinx/myst-nb or Jupyter Book would work too but bring a larger stack.
   MathJax is served from the site itself (the copy packaged in `jupyter-server-mathjax`), not from a CDN.

Executed notebooks are cached in `build/docs_src/` keyed on the notebook, `vcc/*.py` and this script, so a
rebuild after editing one notebook re-executes only that one; `--force` re-executes all. The whole build is
skipped when nothing changed since the last one (`_docs/.build-stamp`).
"""
import argparse, hashlib, json, os, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, EXEC, STAGE, SITE = ROOT/'nbs', ROOT/'build'/'docs_exec', ROOT/'build'/'docs_src', ROOT/'_docs'
STAMP = SITE/'.build-stamp'
CSS = '''/* wider pages: notebook figures and tables need the room */
.md-grid { max-width: 1600px; }
/* an API entry (show_doc): a rule above, the signature set off */
.jp-RenderedMarkdown h3 { margin-top: 0.6em; }
'''
API_CLASS = 'vcc-api'  # every show_doc entry gets an anchor with this class (the browser test counts them)

# Notebooks that are pages besides the stages, with their page names: the example submission report (`vcc report`'s
# notebook run on a small example version), which is a page of the site rather than a committed reports/ folder.
EXTRA_PAGES = {'report.ipynb': 'example_report'}

def stage_notebooks():
    "The stage notebooks `nbs/NN_*.ipynb` in pipeline order."
    return sorted(p for p in NBS.glob('[0-9]*_*.ipynb'))

def doc_notebooks():
    "Every notebook that is a page of the site: the stages in pipeline order, then `EXTRA_PAGES`."
    return stage_notebooks() + [NBS/n for n in EXTRA_PAGES if (NBS/n).exists()]

def page_name(nb: Path):
    "`00_data.ipynb` -> `data`: the page names nbdev/Quarto use, so nbdev's doc links (`data.html#simulate`) resolve."
    if nb.name in EXTRA_PAGES: return EXTRA_PAGES[nb.name]
    from nbdev.config import nbpath2html
    return nbpath2html(nb).stem

def _digest(*paths):
    h = hashlib.sha256()
    for p in paths: h.update(p.name.encode()); h.update(p.read_bytes())
    return h.hexdigest()[:20]

def _lib_files(): return sorted((ROOT/'vcc').glob('*.py'))

def nb_key(nb: Path): return _digest(nb, *_lib_files())

def site_key():
    "Hash of every input of the site: a stale `_docs/` is rebuilt, a fresh one reused."
    return _digest(*doc_notebooks(), ROOT/'README.md', ROOT/'mkdocs.yml', Path(__file__), *_lib_files())

def is_fresh(): return STAMP.exists() and STAMP.read_text().strip() == site_key() and (SITE/'index.html').exists()

# ---------------------------------------------------------------- one notebook (runs in its own process)
_re_dir = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')

def _doc_base():
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    return (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/') + '/'

def _localise_links(text, base):
    "nbdev's `add_links` points at the published site; make links to our own pages relative so they work offline."
    return text.replace(base, '') if base != '/' else text

def _api_anchor(md):
    "A show_doc markdown output gets an anchor nbdev's links expect (`data.html#simulate`) and the API class."
    m = re.search(r'^#+\s+(.+?)\s*$', md, re.M)
    if not m: return md
    name = re.sub(r'<[^>]+>|[`*\[\]]', '', m.group(1)).split('(')[0].strip()
    anchor = re.sub(r'[^\w.-]+', '-', name.lower()).strip('-')
    return f'<a id="{anchor}" class="{API_CLASS}"></a>\n\n' + md

def execute_one(src: Path, dst: Path):
    "First half of nbdev's processors, then full execution, of a temp copy of `src`; writes the executed notebook `dst`."
    from fastcore.nbio import write_nb
    from nbdev.process import NBProcessor, mk_cell
    from nbdev.processors import FilterDefaults, add_show_docs
    procs = list(FilterDefaults().procs())
    pre = procs[:procs.index(add_show_docs)+1]  # FrontmatterProc, populate_language, add_show_docs
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags or [])
    with tempfile.TemporaryDirectory(prefix='vcc-docs-') as tmp:
        # a copy of all of nbs/: a notebook may use its siblings (05_train runs sweep.ipynb with papermill)
        shutil.copytree(NBS, Path(tmp)/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', '__pycache__'))
        tmp_nb = Path(tmp)/'nbs'/src.name
        proc = NBProcessor(tmp_nb, procs=pre, rm_directives=False, process=True)
        nb = proc.nb
        nb.cells.insert(0, mk_cell('#| hide\nfrom nbdev.showdoc import show_doc'))
        for c in nb.cells:
            for k in ('idx_', 'directives_', 'has_sd'): c.pop(k, None)
        nb.metadata['vcc_docs'] = {'key': nb_key(src), 'frontmatter': dict(getattr(nb, 'frontmatter_', {}) or {})}
        write_nb(nb, tmp_nb)
        from nbdev.test import test_nb
        t0 = time.time()
        # nbdev's test runner, as `nbdev-test` calls it: fresh shell, cwd = the copy's folder, `#| slow` cells skipped
        ok, _ = test_nb(tmp_nb, skip_flags=skip, save=True, showerr=True, cell_timeout=int(cfg.get('cell_timeout', 600)) or None)
        if not ok: raise SystemExit(f'{src.name}: executing the notebook failed (see the traceback above)')
        shutil.copy(tmp_nb, dst)
    print(f'  executed {src.name} in {time.time()-t0:.0f}s', flush=True)

def finish_page(executed: Path, dst: Path):
    "Second half of nbdev's processors on an executed notebook, then directives -> cell tags mkdocs-jupyter reads."
    from fastcore.nbio import write_nb
    from nbdev.process import NBProcessor, mk_cell
    from nbdev.processors import FilterDefaults, add_show_docs, exec_show_docs
    procs = list(FilterDefaults().procs())
    # nbdev's `exec_show_docs` executes only imports, exports and show_doc cells; the docs need figures, so the
    # whole notebook was executed instead (`execute_one`).
    post = [p for p in procs[procs.index(add_show_docs)+1:] if p is not exec_show_docs]
    nb = NBProcessor(executed, procs=post, rm_directives='quarto', process=True).nb
    fm = nb.metadata.get('vcc_docs', {}).get('frontmatter', {})
    base, cells = _doc_base(), []
    report_page = dst.stem in EXTRA_PAGES.values()
    title = fm.get('title') or dst.stem.replace('_', ' ').title()
    head = f'# {title}'
    if fm.get('description'): head += f'\n\n> {fm["description"]}'
    cells.append(mk_cell(head, cell_type='markdown'))
    for c in nb.cells:
        if c.cell_type == 'raw': continue  # the frontmatter cell: its title/description are the heading above
        for k in ('idx_', 'directives_', 'has_sd'): c.pop(k, None)
        c.metadata.pop('execution', None)  # execnb's timings are not valid nbformat (nbconvert validates)
        if c.cell_type == 'markdown':
            c.source = _localise_links(c.source, base)
            if c.source.strip() and not c.source.lstrip().startswith('<!--'): cells.append(c)
            continue
        if c.cell_type != 'code': continue
        dirs, keep = {}, []
        for line in c.source.splitlines():
            m = _re_dir.match(line)
            if m: dirs[m.group(1)] = m.group(2).lower()
            else: keep.append(line)
        if dirs.get('include') == 'false': continue
        c.source = '\n'.join(keep).strip()
        tags = set(c.metadata.get('tags', []))
        if report_page and 'parameters' in tags: continue   # papermill's defaults: not part of the report
        if dirs.get('echo') == 'false' or not c.source or report_page: tags.add('remove_input')   # a report page shows results, as report.html
        if dirs.get('output') == 'false': tags.add('remove_output')
        for o in c.get('outputs', []):
            md = o.get('data', {}).get('text/markdown')
            if md is None: continue
            md = _localise_links(''.join(md) if isinstance(md, list) else md, base)
            o['data']['text/markdown'] = _api_anchor(md) if c.source.startswith('show_doc') else md
        if not c.source and not c.get('outputs'): continue
        c.metadata['tags'] = sorted(tags)
        cells.append(c)
    nb.cells = cells
    nb.metadata['vcc_docs']['title'] = title
    write_nb(nb, dst)
    return title

# ---------------------------------------------------------------- the site
def _cached(src, dst):
    if not dst.exists(): return False
    try: return json.loads(dst.read_text())['metadata'].get('vcc_docs', {}).get('key') == nb_key(src)
    except Exception: return False

LOCKS = ROOT/'build'/'docs_locks'

def _run_one(src, dst, fresh_after:float|None=None):
    """Execute `src` into `dst` unless `dst` is a cached execution of the same inputs (written after `fresh_after`, if given).
    One process at a time per notebook (a file lock): when the notebook tests and the docs build ask for the same notebook at
    once (`pytest -n 2`), the second waits and reuses the first's execution instead of running the notebook again."""
    import fcntl
    LOCKS.mkdir(parents=True, exist_ok=True)
    with open(LOCKS/f'{page_name(src)}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _cached(src, dst) and (fresh_after is None or dst.stat().st_mtime >= fresh_after):
            return True, f'  reused {src.name} (executed already, same inputs)'
        res = subprocess.run([sys.executable, __file__, '--one', str(src), str(dst)], cwd=ROOT, capture_output=True, text=True)
    if res.returncode: return False, f'FAILED {src.name}:\n{res.stdout[-3000:]}\n{res.stderr[-8000:]}'
    return True, res.stdout.strip()

def index_md():
    "The home page is the README (itself generated from nbs/index.ipynb), with the stage notebooks linked to their pages."
    md = (ROOT/'README.md').read_text()
    md = re.sub(r'^<!--.*?-->\s*', '', md, flags=re.S)
    pages = {f'nbs/{nb.name}': page_name(nb) for nb in doc_notebooks()}
    return re.sub(r'`(nbs/\w+\.ipynb)`', lambda m: f'[`{m.group(1)}`]({pages[m.group(1)]}.ipynb)' if m.group(1) in pages else m.group(0), md)

def fix_anchors(site, pages):
    """Make every `#anchor` of the site resolve. (1) mkdocs-jupyter builds a page's table of contents with
    Python-Markdown, nbconvert renders the headings with mistune, and their ids differ for a heading with inline
    code (the TOC drops it): give such a heading the TOC's id too. (2) nbdev's `add_links` links every backticked
    symbol of the library, private ones included, whose page then has no entry for it: keep the code, drop the link."""
    import copy
    from bs4 import BeautifulSoup
    words = lambda t: ' '.join(t.get_text(' ').replace('\u00b6', ' ').split())
    def no_code(h):
        h = copy.copy(h)
        for c in h.find_all(['code', 'a']): c.decompose()
        return words(h)
    soups = {f'{n}.html': BeautifulSoup((site/f'{n}.html').read_text(encoding='utf-8'), 'html.parser') for n in pages}
    changed = set()
    for name, soup in soups.items():
        ids = {t['id'] for t in soup.find_all(id=True)}
        heads = soup.select('article h1, article h2, article h3, article h4, article h5, article h6')
        for a in soup.select('nav.md-nav--secondary a.md-nav__link[href^="#"]'):
            frag = a['href'][1:]
            if frag in ids: continue
            h = next((h for h in heads if words(h) == words(a)), None) or next((h for h in heads if no_code(h) == words(a)), None)
            if h is None: continue
            h.insert_before(soup.new_tag('a', id=frag)); ids.add(frag); changed.add(name)
    ids = {name: {t['id'] for t in soup.find_all(id=True)} for name, soup in soups.items()}
    for name, soup in soups.items():
        for a in soup.select('article a[href*="#"]'):
            target, _, frag = a['href'].partition('#')
            target = target or name
            if target in ids and frag and frag not in ids[target]: a.unwrap(); changed.add(name)
    for name in changed: (site/name).write_text(str(soups[name]), encoding='utf-8')

def copy_mathjax(site):
    "MathJax for the notebooks' `$...$`, from the site itself (works offline and from file://)."
    import jupyter_server_mathjax
    src = Path(jupyter_server_mathjax.__file__).parent/'static'
    dst = site/'assets'/'mathjax'
    shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns('localization'))
    # That copy ships the STIX-Web fonts only (not MathJax's default TeX fonts): select them, as Jupyter does.
    # mkdocs.yml's `custom_mathjax_url` loads this file after the combined TeX-AMS-MML_HTMLorMML config.
    (dst/'config'/'vcc-offline.js').write_text(
        'MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},\n'
        '                    SVG: {font: "STIX-Web"}, menuSettings: {renderer: "HTML-CSS"}});\n'
        'MathJax.Ajax.loadComplete("[MathJax]/config/vcc-offline.js");\n')

def build(jobs=2, force=False):
    t0 = time.time()
    for d in (EXEC, STAGE): d.mkdir(parents=True, exist_ok=True)
    pages = [(nb, page_name(nb)) for nb in doc_notebooks()]
    if force:  # re-execute all: what is cached is stale by request
        for nb, name in pages: (EXEC/f'{name}.ipynb').unlink(missing_ok=True)
    run = [(nb, EXEC/f'{name}.ipynb') for nb, name in pages if not _cached(nb, EXEC/f'{name}.ipynb')]
    print(f'docs: {len(pages)} notebooks, executing {len(run)} ({len(pages)-len(run)} unchanged) with {jobs} worker(s)', flush=True)
    with ThreadPoolExecutor(max(1, jobs)) as ex:   # _run_one reuses what another process executed meanwhile
        results = list(ex.map(lambda sd: _run_one(*sd), run))
    for ok, out in results: print(out, flush=True)
    if failed := [out.split(':')[0][7:] for ok, out in results if not ok]:
        sys.exit(f'docs: not built: {", ".join(failed)} failed to execute (the same failure fails tests/test_notebooks.py)')
    keep = {f'{name}.ipynb' for _, name in pages} | {'stylesheets'}
    for d in (EXEC, STAGE):
        for p in d.iterdir():
            if p.name not in keep: (shutil.rmtree if p.is_dir() else os.remove)(p)
    nav = [{'Home': 'index.md'}] + [{finish_page(EXEC/f'{name}.ipynb', STAGE/f'{name}.ipynb'): f'{name}.ipynb'} for _, name in pages]
    (STAGE/'index.md').write_text(index_md())
    (STAGE/'stylesheets').mkdir(exist_ok=True)
    (STAGE/'stylesheets'/'vcc.css').write_text(CSS)
    from mkdocs.config import load_config
    from mkdocs.commands.build import build as mkdocs_build
    import logging; logging.basicConfig(level=logging.WARNING, format='mkdocs %(levelname)s: %(message)s')
    cfg = load_config(str(ROOT/'mkdocs.yml'), nav=nav, docs_dir=str(STAGE), site_dir=str(SITE))
    mkdocs_build(cfg)
    fix_anchors(SITE, ['index'] + [name for _, name in pages])
    copy_mathjax(SITE)
    STAMP.write_text(site_key() + '\n')
    print(f'docs: built {SITE.relative_to(ROOT)}/ in {time.time()-t0:.0f}s; open {SITE/"index.html"} '
          f'or serve it: .venv/bin/python scripts/build_docs.py --serve 8000', flush=True)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--force', action='store_true', help='re-execute every notebook and rebuild even if _docs/ is fresh')
    ap.add_argument('--jobs', type=int, default=2, help='notebooks executed at once (default 2)')
    ap.add_argument('--serve', type=int, metavar='PORT', help='after building, serve _docs/ on 127.0.0.1:PORT')
    ap.add_argument('--one', nargs=2, metavar=('SRC', 'DST'), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one: return execute_one(Path(a.one[0]), Path(a.one[1]))
    if a.force or not is_fresh(): build(jobs=a.jobs, force=a.force)
    else: print(f'docs: {SITE.relative_to(ROOT)}/ is up to date (--force rebuilds)')
    if a.serve:
        print(f'serving http://127.0.0.1:{a.serve}/ (Ctrl-C stops)', flush=True)
        subprocess.run([sys.executable, '-m', 'http.server', '-b', '127.0.0.1', '-d', str(SITE), str(a.serve)])

if __name__ == '__main__': main()
