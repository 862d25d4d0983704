"""The docs site (`./run docs`) in a real headless browser, and JupyterLab (`./run lab`) starting on the project.

The site is built by scripts/build_docs.py (reused when `_docs/` is fresh), served on 127.0.0.1 and driven in Debian's
`chromium` through the DevTools protocol (websocket-client): every page in the navigation is opened and must show
its title and a figure or an API entry; every internal link must answer HTTP 200 and every `#anchor` must exist;
search must find an exported function; pages must also work from file://; no local resource may fail to load.
Screenshots land in `_docs/screenshots/`."""
import importlib, base64, functools, http.server, json, os, shutil, signal, socket, subprocess, sys, threading, time, urllib.request
from pathlib import Path
from urllib.parse import urldefrag
import pytest
from conftest import ROOT

SITE = ROOT/'_docs'
SHOTS = SITE/'screenshots'
sys.path.insert(0, str(ROOT/'scripts'))
import build_docs  # noqa: E402

def _chromium():
    for name in ('chromium', 'chromium-browser'):
        if shutil.which(name): return shutil.which(name)

@pytest.fixture(scope='module')
def site():
    "Build `_docs/` (a no-op when it is fresh: `_docs/.build-stamp` matches every input)."
    res = subprocess.run([sys.executable, str(ROOT/'scripts'/'build_docs.py')], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, f'docs build failed:\n{res.stdout[-5000:]}\n{res.stderr[-10000:]}'
    assert build_docs.is_fresh()
    return SITE

@pytest.fixture(scope='module')
def server(site):
    handler = functools.partial(type('Quiet', (http.server.SimpleHTTPRequestHandler,), {'log_message': lambda *a: None}), directory=str(site))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown(); httpd.server_close()

class Browser:
    "Just enough of the Chrome DevTools protocol: navigate, evaluate JavaScript, screenshot, watch network failures."
    def __init__(self, ws_url):
        import websocket
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.n, self.events = 0, []
        for domain in ('Page', 'Runtime', 'Network'): self.send(f'{domain}.enable')
        self.send('Emulation.setDeviceMetricsOverride', width=1280, height=900, deviceScaleFactor=1, mobile=False)

    def _recv(self):
        msg = json.loads(self.ws.recv())
        if 'method' in msg: self.events.append(msg)
        return msg

    def send(self, method, **params):
        self.n += 1; self.ws.send(json.dumps({'id': self.n, 'method': method, 'params': params}))
        while True:
            msg = self._recv()
            if msg.get('id') == self.n:
                if 'error' in msg: raise RuntimeError(f'{method}: {msg["error"]}')
                return msg.get('result', {})

    def wait_for(self, event, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if any(e['method'] == event for e in self.events): return
            self._recv()
        raise TimeoutError(f'no {event} within {timeout}s')

    def goto(self, url):
        self.events.clear()
        self.send('Page.navigate', url=url)
        self.wait_for('Page.loadEventFired')
        self.js('new Promise(r => setTimeout(r, 300))')  # material's scripts mount after load
        return self

    def js(self, expr):
        res = self.send('Runtime.evaluate', expression=expr, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in res: raise RuntimeError(f'{expr[:80]}: {res["exceptionDetails"]}')
        return res['result'].get('value')

    def wait_js(self, expr, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if v := self.js(expr): return v
            time.sleep(0.2)
        return self.js(expr)

    def failed_requests(self, prefix):
        "Local requests that failed or answered >= 400 since the last navigation."
        urls = {e['params']['requestId']: e['params']['request']['url'] for e in self.events if e['method'] == 'Network.requestWillBeSent'}
        bad = [urls.get(e['params']['requestId'], '?') + ' ' + e['params'].get('errorText', '') for e in self.events
               if e['method'] == 'Network.loadingFailed']
        bad += [f"{e['params']['response']['url']} HTTP {e['params']['response']['status']}" for e in self.events
                if e['method'] == 'Network.responseReceived' and e['params']['response']['status'] >= 400]
        return [b for b in bad if b.startswith(prefix)]

    def js_errors(self):
        return [e['params']['exceptionDetails'].get('exception', {}).get('description', e['params']['exceptionDetails'].get('text'))
                for e in self.events if e['method'] == 'Runtime.exceptionThrown']

    def screenshot(self, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send('Page.captureScreenshot', format='png')['data']))

@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    exe = _chromium()
    if not exe: pytest.skip('chromium is not installed and `./run setup` could not install it (apt-get install -y chromium): no browser test of the docs')
    profile = tmp_path_factory.mktemp('chromium-profile')
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
             '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage', '--hide-scrollbars',
             f'--user-data-dir={profile}', '--remote-debugging-port=0', '--window-size=1280,900', 'about:blank']
    proc = subprocess.Popen([exe, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        port_file, end = profile/'DevToolsActivePort', time.time() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert proc.poll() is None and time.time() < end, f'chromium did not start: {proc.stderr.read().decode()[-3000:] if proc.poll() is not None else "timeout"}'
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=10).read())
        b = Browser(next(t for t in targets if t['type'] == 'page')['webSocketDebuggerUrl'])
        yield b
        b.ws.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(10)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL)

PAGE_INFO = r'''(() => {
  const art = document.querySelector('article');
  const figs = Array.from(art.querySelectorAll('img, svg')).filter(e => !e.closest('.md-icon, button, .headerlink, .md-source'));
  const h1 = art.querySelector('h1') ? art.querySelector('h1').cloneNode(true) : document.createElement('h1');
  h1.querySelectorAll('.headerlink, .anchor-link').forEach(a => a.remove());  // the permalink's pilcrow
  return {
    title: document.title, h1: h1.textContent.trim(),
    figures: figs.length, code: art.querySelectorAll('pre').length,
    broken_images: Array.from(art.querySelectorAll('img')).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
    api: Array.from(art.querySelectorAll('a.vcc-api')).filter(a => a.nextElementSibling || a.parentElement.querySelector('h3, h4')).length,
    nav: Array.from(document.querySelectorAll('.md-nav--primary a.md-nav__link[href]')).map(a => a.href),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  };
})()'''

def _expected_pages():
    "Home, then every page notebook (the stages in pipeline order, then the example report), with the title its page must show."
    pages = [('index.html', None)]
    for nb in build_docs.doc_notebooks():
        name = build_docs.page_name(nb)
        title = json.loads((build_docs.STAGE/f'{name}.ipynb').read_text())['metadata']['vcc_docs']['title']
        pages.append((f'{name}.html', title))
    return pages

def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r: return r.status
    except urllib.error.HTTPError as e: return e.code

def _exports_callables(page):
    "Whether the page's module exports functions or classes; a module of constants only (vcc.schema) shows its code instead."
    try: mod = importlib.import_module(f'vcc.{page[:-len(".html")]}')
    except ImportError: return True   # not a module's page (the example report): a figure or an API entry is expected
    return any(callable(getattr(mod, n)) for n in getattr(mod, '__all__', []))

def test_docs_site_in_browser(server, browser):
    expected = _expected_pages()
    home = browser.goto(server + 'index.html').js(PAGE_INFO)
    assert home['h1'] == 'vcc' and 'vcc' in home['title'], home['h1']
    # The navigation lists home and every stage notebook, in pipeline order.
    nav = list(dict.fromkeys(urldefrag(u)[0] for u in home['nav']))
    assert nav == [server + p for p, _ in expected], f'navigation {nav} != pages {[p for p, _ in expected]}'
    # The home page (the README) links every stage page from its table.
    for page, _ in expected[1:]: assert server + page in home['links'], f'home page does not link {page}'
    browser.screenshot(SHOTS/'home.png')

    ids, links, problems = {}, {}, []
    for page, title in expected:
        info = browser.goto(server + page).js(PAGE_INFO)
        ids[page], links[page] = set(info['ids']), info['links']
        if page == 'index.html': continue
        if info['h1'] != title: problems.append(f'{page}: heading {info["h1"]!r}, expected {title!r}')
        if not title in info['title']: problems.append(f'{page}: <title> {info["title"]!r} lacks {title!r}')
        if _exports_callables(page):
            if info['figures'] + info['api'] == 0: problems.append(f'{page}: neither a figure nor an API entry')
        elif info['code'] == 0: problems.append(f'{page}: a module of constants whose page shows no code')
        if info['broken_images']: problems.append(f'{page}: images that did not load: {info["broken_images"]}')
        if bad := browser.failed_requests(server): problems.append(f'{page}: local requests failed: {bad}')
        if errs := browser.js_errors(): problems.append(f'{page}: JavaScript errors: {errs}')
    browser.goto(server + 'metrics.html').js("document.querySelector('a.vcc-api').scrollIntoView()")
    browser.js('new Promise(r => setTimeout(r, 800))')
    browser.screenshot(SHOTS/'metrics-api.png')
    for page in ('explore.html', 'metrics.html'):
        if (SITE/page).exists():
            browser.goto(server + page).screenshot(SHOTS/f'{page[:-5]}.png')
            browser.js("document.querySelector('article img').scrollIntoView({block: 'center'})")
            browser.js('new Promise(r => setTimeout(r, 800))')  # let the header's title transition finish
            browser.screenshot(SHOTS/f'{page[:-5]}-figure.png')
            break

    # Every link to a local page answers 200; every #anchor to a page of the site exists there.
    checked = {}
    for page, hrefs in links.items():
        for href in hrefs:
            if not href.startswith(server): continue
            url, frag = urldefrag(href)
            if url not in checked: checked[url] = _status(url)
            if checked[url] != 200: problems.append(f'{page}: link {href} answers {checked[url]}')
            target = url[len(server):] or 'index.html'
            if frag and target in ids and frag not in ids[target]: problems.append(f'{page}: link {href}: no #{frag} on {target}')
    assert not problems, '\n'.join(problems)
    assert len(checked) >= len(expected)

    # Search (mkdocs-material's lunr index, inlined by the offline plugin) finds an exported function.
    browser.goto(server + 'index.html?q=simulate')
    hits = browser.wait_js("document.querySelectorAll('.md-search-result__item').length")
    assert hits, 'search for "simulate" found nothing'

def test_docs_site_from_file_url(site, browser):
    """Opened from disk (no server): pages, navigation and figures work. Search needs the http server: Chromium
    refuses web workers (mkdocs-material's search runs in one) to file:// pages."""
    browser.goto((site/'index.html').as_uri())
    nav = browser.js("Array.from(document.querySelectorAll('.md-nav--primary a.md-nav__link[href]')).map(a => a.href)")
    first = next(u for u in nav if '#' not in u and not u.endswith('/index.html'))  # the first stage page
    assert first.startswith('file://'), first
    browser.goto(first)
    info = browser.js(PAGE_INFO)
    assert info['h1'] and info['figures'] + info['api'] > 0 and not info['broken_images'], f'{first}: {info["h1"]!r}, {info["figures"]} figures'

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def test_lab_starts(tmp_path):
    "`./run lab` registers the `vcc` kernel (user level, idempotent) and serves JupyterLab on nbs/."
    port, token = _free_port(), 'vcc-test-token'
    env = {**os.environ, 'JUPYTER_DATA_DIR': str(tmp_path/'data'), 'JUPYTER_CONFIG_DIR': str(tmp_path/'config'),
           'JUPYTER_RUNTIME_DIR': str(tmp_path/'runtime'), 'JUPYTER_PLATFORM_DIRS': '1'}
    log = open(tmp_path/'lab.log', 'w+')
    proc = subprocess.Popen([str(ROOT/'run'), 'lab', f'--port={port}', f'--IdentityProvider.token={token}'], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end, api = time.time() + 60, None
        while time.time() < end and proc.poll() is None:
            try: api = json.loads(urllib.request.urlopen(f'http://127.0.0.1:{port}/api', timeout=2).read()); break
            except OSError: time.sleep(0.3)
        log.seek(0); out = log.read()
        assert api and 'version' in api, f'JupyterLab did not answer on 127.0.0.1:{port}/api:\n{out[-3000:]}'
        get = lambda path: json.loads(urllib.request.urlopen(f'http://127.0.0.1:{port}{path}?token={token}', timeout=10).read())
        specs = get('/api/kernelspecs')
        assert 'vcc' in specs['kernelspecs'] and specs['default'] == 'vcc', specs
        argv0 = specs['kernelspecs']['vcc']['spec']['argv'][0]
        assert Path(argv0).parent == ROOT/'.venv'/'bin', f'vcc kernel runs {argv0}, not the project .venv'
        names = {c['name'] for c in get('/api/contents')['content']}
        assert 'index.ipynb' in names, f'JupyterLab root is not nbs/: {names}'
        assert f'127.0.0.1:{port}/lab' in out, f'./run lab did not print the URL:\n{out[-2000:]}'
        assert (tmp_path/'data'/'kernels'/'vcc'/'kernel.json').exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(15)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL)
        log.close()
