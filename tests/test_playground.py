"""The playground end to end: its server, its messages, and its page in a real headless
Chromium (Debian's ``chromium`` driven by Playwright; those tests skip, saying why, where
either is missing). The server listens on 127.0.0.1 only.

The page's tests take the documentation's screenshots, ``playground-*.png``, into a
temporary folder, or into ``$SYNAPSENET_SCREENSHOTS`` when set: ``SYNAPSENET_SCREENSHOTS=docs/img
make test`` renews those in the docs (a test run leaves the tracked files alone).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import sys
import threading
import time
from pathlib import Path

import pytest

from synapsenet import playground
from synapsenet.playground import config as settings
from synapsenet.playground.session import FPS, MAX_QUEUED, Outbox

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("SYNAPSENET_SCREENSHOTS")
             or tempfile.mkdtemp(prefix="synapsenet-screenshots-"))
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if Path("/usr/bin/chromium").exists() else None)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SPIRAL = "#dataset=spiral&layers=8,8&features=x1,x2,sin1,sin2"


# -- a server on the loopback, in this process (its sessions can be counted) --------------
@pytest.fixture(scope="module")
def server():
    sock = playground.bind("127.0.0.1", 0)
    srv = playground.server(sock, "127.0.0.1")
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "the playground server did not start"
        time.sleep(0.02)
    srv.url = playground.url_of(sock, "127.0.0.1")
    srv.sessions = srv.config.app.state.sessions
    yield srv
    srv.should_exit = True
    thread.join(10)


def session_threads() -> int:
    return sum(t.name == "playground-session" for t in threading.enumerate())


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.03)


# -- the messages -------------------------------------------------------------------------
def test_every_setting_is_checked():
    ok = settings.check({})
    assert ok == settings.defaults()
    for bad in ({"layers": [4] * 7}, {"layers": [17]}, {"layers": [0]}, {"layers": "4,2"},
                {"layers": [True]}, {"points": 2001}, {"points": 19}, {"points": 3.5},
                {"learning_rate": 0}, {"learning_rate": 11}, {"learning_rate": "0.1"},
                {"noise": -0.1}, {"features": []}, {"features": ["x3"]},
                {"features": ["x1", "x1"]}, {"activation": "softmax"}, {"dataset": "mnist"},
                {"substrate": "../../etc"}, {"speed": 0}, {"chip_levels": 1},
                {"chip_adc": 17}, {"chip_drift": 1.0}, {"seed": -1}, {"unknown": 1},
                {"train_on": "chip"}, {"train_on": "chip", "substrate": "pcm", "l2": 0.1},
                {"batch_size": None}, {"points": True}):
        with pytest.raises(settings.MessageError):
            settings.check(bad)
    assert settings.check({"layers": [], "chip_levels": 0, "substrate": "pcm"})["layers"] == []


def test_hostile_messages_are_refused_with_a_sentence():
    hostile = ["", "nope", "[1]", "null", "1e999", '"play"', "{}", '{"type": null}',
               '{"type": "play", "x": 1}', '{"type": "config"}', '{"type": "config", '
               '"config": [1]}', '{"type": "exec"}', "[" * 15000, "x" * 20000,
               '{"type": "config", "config": {"learning_rate": NaN}}', b"\x00binary"]
    for text in hostile:
        with pytest.raises(settings.MessageError) as e:
            kind, changes = settings.parse_message(text)
            settings.check(changes)
        assert 0 < len(str(e.value)) < 300


def test_the_outbox_holds_one_frame_and_a_bounded_queue():
    async def fill():
        box = Outbox(asyncio.get_running_loop())
        for i in range(10 * MAX_QUEUED):
            box.put({"type": "error", "message": str(i)})
            box.put({"type": "frame", "n": i}, frame=True)
        await asyncio.sleep(0)
        return await box.take()

    out = [json.loads(t) for t in asyncio.run(fill())]
    assert len(out) == MAX_QUEUED + 1
    assert out[-1] == {"type": "frame", "n": 10 * MAX_QUEUED - 1}  # the newest frame only


def test_a_tab_in_the_background_gets_few_frames_and_training_goes_on():
    from synapsenet.playground.session import HIDDEN_FPS, Session

    class Counting:  # an outbox that counts the frames put in it
        def __init__(self):
            self.frames, self.last = 0, None

        def put(self, message, frame=False):
            if frame:
                self.frames, self.last = self.frames + 1, message

    def frames_in(session, box, seconds):
        n0 = box.frames
        time.sleep(seconds)
        return (box.frames - n0) / seconds

    box = Counting()
    session = Session(box, settings.check({"speed": 1000}))
    try:
        session.command("play")
        wait_for(lambda: box.last and box.last["epoch"] > 0, what="training to start")
        shown = frames_in(session, box, 1.5)
        session.command("hidden")
        time.sleep(0.3)
        epoch = box.last["epoch"]
        hidden = frames_in(session, box, 2.5)
        assert shown >= 10 and hidden <= HIDDEN_FPS + 0.5, (shown, hidden)
        assert box.last["epoch"] > epoch  # it trained on, in the background
        session.command("visible")
        assert frames_in(session, box, 1.0) >= 10
    finally:
        session.close()
        assert session.join(10)


# -- the server: its own assets only, its own page only --------------------------------
def raw_get(port: int, target: str, host: str = "127.0.0.1") -> tuple[int, bytes]:
    """A request sent as written (no client normalises the path), its status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                  .encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_serves_only_its_own_assets(server):
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    status, body = raw_get(port, "/")
    assert status == 200 and b"synapsenet playground" in body
    for name in ("app.js", "style.css", "index.html", "favicon.svg"):
        assert raw_get(port, f"/static/{name}")[0] == 200
    secret = (ROOT / "pyproject.toml").read_bytes()[:40]
    for target in ["/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/session.py",
                   "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml", "/../../pyproject.toml",
                   "/static/..%5c__init__.py", "/static/app.js%00.py", "/static//etc/passwd",
                   "/static/", "/static", "/app.py", "/session.py", "/etc/passwd",
                   "/%2e%2e/%2e%2e/etc/passwd", "/static/../../../../../../etc/passwd",
                   "/static/.%2e/.%2e/pyproject.toml", "/ws/../static/../app.py",
                   "//etc/passwd", "/static/APP.JS", "/static/app.js/..",
                   "/static/%252e%252e/app.py", "/index.html?../app.py#x"]:
        status, body = raw_get(port, target)
        assert status in (400, 404), (target, status)
        assert b"import" not in body and b"root:" not in body and secret not in body, target
    # a page elsewhere cannot reach the playground by giving its own name for 127.0.0.1
    assert raw_get(port, "/", host="evil.example:80")[0] == 403
    assert raw_get(port, "/", host=f"localhost:{port}")[0] == 200


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "ws"


async def _messages(ws, seconds: float) -> list[dict]:
    out, end = [], time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except asyncio.TimeoutError:
            break
    return out


def test_fuzz_messages_are_answered_and_the_connection_survives(server):
    import websockets

    rng = random.Random(16)
    values = [None, True, -1, 0, 1, 17, 2.5, 1e308, -1e308, "", "x" * 300, "circle", "pcm",
              [], [1] * 7, [16] * 6, ["x1"], {"a": 1}, [[1]], "../../../etc/passwd"]

    def hostile() -> str | bytes:
        r = rng.random()
        if r < 0.2:
            return "".join(rng.choice("{}[]\":,0123456789aeflnrstu\\ ") for _ in range(60))
        if r < 0.3:
            return bytes(rng.randrange(256) for _ in range(40))
        if r < 0.4:
            return json.dumps({"type": rng.choice(["config", "play", "eval", 1, None]),
                               rng.choice(["config", "x"]): rng.choice(values)})
        name = rng.choice(list(settings.FIELDS) + ["__class__", "layers ", "x" * 50])
        return json.dumps({"type": "config", "config": {name: rng.choice(values)}})

    async def run():
        async with websockets.connect(ws_url(server), max_size=None) as ws:
            await _messages(ws, 0.5)
            sent = 0
            for _ in range(300):
                await ws.send(hostile())
                sent += 1
            await ws.send("y" * 200_000)  # over the cap: refused, the connection stays
            await ws.send(json.dumps({"type": "config", "config": {"layers": [2]}}))
            await ws.send(json.dumps({"type": "play"}))
            got = await _messages(ws, 2.0)
            return sent, got

    sent, got = asyncio.run(run())
    errors = [m for m in got if m["type"] == "error"]
    assert errors and all(isinstance(m["message"], str) and m["message"] for m in errors)
    assert any("too long" in m["message"] for m in errors)
    assert not any(m["message"].startswith("internal error") for m in errors), errors[:3]
    frames = [m for m in got if m["type"] == "frame"]
    assert frames and frames[-1]["sizes"][1:] == [2, 1] and frames[-1]["epoch"] > 0
    wait_for(lambda: not server.sessions, what="the fuzzed session to close")


def test_another_sites_page_cannot_open_a_websocket(server):
    import websockets

    async def run():
        async with websockets.connect(ws_url(server), origin="http://evil.example"):
            pass

    with pytest.raises(Exception) as e:
        asyncio.run(run())
    assert "403" in str(e.value) or "rejected" in str(e.value).lower()


# -- the command ------------------------------------------------------------------------
def synapsenet(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "synapsenet", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_the_command_prints_its_url_and_serves_the_page():
    p = synapsenet("playground", "--no-browser", "--port", "0")
    try:
        line = p.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        port = int(url[0].rsplit(":", 1)[1].strip("/"))
        status, body = raw_get(port, "/")
        assert status == 200 and b"app.js" in body
    finally:
        p.terminate()
        p.wait(10)


def test_bad_command_lines_are_one_line_errors():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args, words in ((["--port", str(port)], "in use"),
                            (["--host", "not..valid", "--port", "0"], "not an address"),
                            (["--host", "192.0.2.1", "--port", "0"], "cannot be used"),
                            (["--port", "70000"], "--port"), (["--port", "x"], "--port")):
            p = synapsenet("playground", "--no-browser", *args)
            try:
                out, err = p.communicate(timeout=30)
            finally:
                p.kill()  # if it listened after all, it goes
            assert p.returncode == 2, (args, err)
            assert len(err.strip().splitlines()) == 1 and words in err, (args, err)
    assert playground.exposure_warning("127.0.0.1") is None
    assert playground.exposure_warning("localhost") is None
    assert "anyone" in playground.exposure_warning("0.0.0.0")


# -- the page in a real browser -----------------------------------------------------------
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run "
                    "installs it)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright is not installed (pip install -e "
                                   "'.[test]')")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            args=ARGS, headless=True, viewport={"width": 1280, "height": 940})
        yield context
        context.close()


class Page:
    """A tab of the playground, with what its console said."""

    def __init__(self, context, url):
        self.page = context.new_page()
        self.problems = []
        self.page.on("console", lambda m: m.type in ("error", "warning") and
                     self.problems.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        self.page.goto(url)
        self.until("window.playground.drawn > 0 && window.playground.config !== null",
                   what="the first frame drawn")
        # and a frame of the network the link asks for (the first may be sent before the
        # server has the link's settings)
        self.until("JSON.stringify(window.playground.frame.sizes.slice(1, -1)) === "
                   "JSON.stringify(window.playground.config.layers)",
                   what="a frame of the configured network")

    def js(self, expression):
        return self.page.evaluate(expression)

    def until(self, expression, timeout=15.0, what=None):
        # polled from here: the page's Content-Security-Policy forbids Playwright's own
        # wait_for_function (it evaluates strings)
        return wait_for(lambda: self.js(expression), timeout, what or expression)

    def slide(self, selector, position):
        """Move a range input to ``position`` as a hand would: input, then change."""
        self.page.eval_on_selector(selector, "(e, v) => { e.value = v; "
                                   "e.dispatchEvent(new Event('input')); "
                                   "e.dispatchEvent(new Event('change')); }", str(position))

    def frame(self):
        return self.js("window.playground.frame")

    def loss(self) -> float:
        return float(self.page.inner_text("#test-loss"))

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"playground-{name}.png"), full_page=True)

    def close(self):
        self.page.close()


@pytest.fixture
def tab(browser, server):
    tabs = []

    def open_tab(fragment=""):
        t = Page(browser, server.url + fragment)
        tabs.append(t)
        return t

    yield open_tab
    for t in tabs:
        assert not t.problems, t.problems
        t.close()


def test_the_page_loads_with_no_console_errors(tab):
    t = tab()
    assert t.js("window.playground.config.dataset") == "circle"
    assert t.page.inner_text("#epoch") == "000,000"
    assert t.js("document.querySelectorAll('#network .node').length") == 7 + 4 + 2 + 1
    assert t.page.is_visible("#heatmap") and t.page.is_hidden("#error")
    t.shot("start")


def test_play_on_the_spiral_lowers_the_shown_test_loss(tab):
    t = tab(SPIRAL)
    before = t.loss()
    t.page.click("#play")
    t.until("window.playground.frame.epoch >= 250", timeout=20)
    t.page.click("#play")  # pause
    t.until("!window.playground.frame.playing")
    after = t.loss()
    assert after < 0.6 * before, (before, after)
    t.page.check("#show-test")
    t.shot("spiral")


def test_the_page_tells_the_server_when_it_goes_to_the_background(tab, server):
    t = tab()
    t.until("window.playground.frame !== null && window.playground.frame !== undefined")
    assert server.sessions and not any(s.hidden for s in server.sessions)

    def go(hidden):
        t.js(f"Object.defineProperty(document, 'hidden', {{value: {str(hidden).lower()}, "
             "configurable: true}); document.dispatchEvent(new Event('visibilitychange'))")

    go(True)
    wait_for(lambda: any(s.hidden for s in server.sessions), what="the session to hear it")
    go(False)
    wait_for(lambda: not any(s.hidden for s in server.sessions), what="the tab back in view")


def test_live_updates_for_a_2_8_8_1_network(tab, record_property):
    t = tab("#dataset=spiral&layers=8,8&features=x1,x2&speed=1000")
    # the first frame may still be the default network's, sent before the link's settings
    t.until("JSON.stringify(window.playground.frame.sizes) === '[2,8,8,1]'")
    t.page.click("#play")
    t.until("window.playground.frame.playing")
    start = t.js("[performance.now(), window.playground.frames, window.playground.drawn, "
                 "window.playground.ticks]")
    t.js("window.playground.maxGap = 0")
    time.sleep(3.0)
    end = t.js("[performance.now(), window.playground.frames, window.playground.drawn, "
               "window.playground.ticks, window.playground.maxGap]")
    seconds = (end[0] - start[0]) / 1000
    received, drawn, ticks = [(b - a) / seconds for a, b in zip(start[1:4], end[1:4])]
    record_property("updates_per_second", round(drawn, 1))
    print(f"\nlive: {received:.1f} frames/s received, {drawn:.1f} drawn, "
          f"{ticks:.0f} display frames/s, longest gap {end[4]:.0f} ms (server cap {FPS}/s)")
    assert received >= 20 and drawn >= 20, (received, drawn)
    # the page stays responsive: display frames keep coming, and a click acts at once
    assert ticks >= 20 and end[4] < 500, (ticks, end[4])
    clicked = time.monotonic()
    t.page.click("#play")
    t.until("!window.playground.frame.playing", timeout=2)
    assert time.monotonic() - clicked < 1.0


def test_changing_the_activation_or_the_layers_resets_and_retrains(tab):
    t = tab()
    t.page.click("#play")
    t.until("window.playground.frame.epoch > 60")
    for act in (lambda: t.page.select_option("#activation", "relu"),
                lambda: t.page.click("#add-layer")):
        generation = t.frame()["generation"]
        act()
        t.until(f"window.playground.frame.generation > {generation}")
        assert t.frame()["epoch"] < 60  # reset: training starts again from epoch 0 …
        t.until(f"window.playground.frame.generation > {generation} && "
                "window.playground.frame.epoch > 30 && window.playground.frame.playing")
        assert t.js("window.playground.curve[0][0]") < 30  # … with a fresh loss curve
    assert t.js("window.playground.config.activation") == "relu"
    assert t.frame()["sizes"] == [2, 4, 2, 2, 1]
    assert "activation=relu" in t.page.url and "layers=4,2,2" in t.page.url


def test_a_noisy_chip_changes_the_boundary_and_a_chip_learns_in_situ(tab):
    t = tab("#dataset=moons&layers=6")
    t.page.click("#play")
    t.until("window.playground.frame.epoch > 150")
    t.page.click("#play")
    t.until("!window.playground.frame.playing")
    digital = t.frame()
    t.page.select_option("#substrate", "pcm")
    t.until("window.playground.frame.substrate === 'pcm'")
    pcm = t.frame()
    assert pcm["epoch"] == digital["epoch"] and pcm["weights"] != digital["weights"]
    assert pcm["heat"] != digital["heat"]  # the same network, another boundary
    t.shot("chip")
    # the sliders: much more noise changes it again, and the test loss rises
    t.slide("#chip_noise", 0.3)
    t.until("window.playground.config.chip_noise === 0.3 && "
            "window.playground.frame.heat !== " + json.dumps(pcm["heat"]))
    t.until("window.playground.frame.test_loss > " + str(pcm["test_loss"]))
    # training on the chip: device pulses, counted
    t.page.click("#chip-defaults")
    t.page.select_option("#train_on", "chip")
    t.page.select_option("#device", "epiram")
    t.until("window.playground.config.device === 'epiram'")
    t.page.click("#play")
    t.until("window.playground.frame.pulses > 0 && window.playground.frame.epoch > 5",
            timeout=20)
    assert int(t.page.inner_text("#pulses").split()[0].replace(",", "")) > 0
    # and what the pulses and reads cost, from the cost model's ledger
    t.until("window.playground.frame.energy_j > 0")
    assert re.fullmatch(r"[\d.]+ [fpnµm]?J", t.page.inner_text("#energy").strip())
    t.shot("insitu")
    t.page.click("#play")


def test_a_shared_url_restores_the_same_configuration(tab):
    a = tab()
    a.page.click("#datasets button[data-dataset=moons]")
    a.page.click("#add-layer")
    a.page.select_option("#activation", "sigmoid")
    a.page.select_option("#learning_rate", "0.1")
    a.page.select_option("#mode", "sgd")
    a.page.click("#network .node.input.off >> nth=0")  # x₁² in
    a.page.select_option("#substrate", "rram")
    a.slide("#chip_adc", 5)  # 6 bits
    a.until("window.playground.config.chip_adc === 6")
    config = a.js("window.playground.config")
    assert config["dataset"] == "moons" and config["layers"] == [4, 2, 2]
    assert config["features"] == ["x1", "x2", "x1sq"] and config["mode"] == "sgd"
    b = tab(a.page.url.split("/", 3)[3])  # the link, opened in another tab
    b.until("window.playground.config.chip_adc === 6")
    assert b.js("window.playground.config") == config
    for control in ("#activation", "#learning_rate", "#mode", "#substrate", "#chip_adc"):
        assert b.page.input_value(control) == a.page.input_value(control), control
    assert b.js("window.playground.data.train") == a.js("window.playground.data.train")
    assert b.frame()["sizes"] == [3, 4, 2, 2, 1]


def test_a_bad_link_or_message_is_shown_on_the_page_and_the_page_goes_on(tab):
    t = tab("#layers=4,99&learning_rate=fast")
    t.until("!document.getElementById('error').hidden")
    assert "layers" in t.page.inner_text("#error-text")
    assert t.js("window.playground.config.layers") == [4, 2]  # the defaults stand
    t.js("window.playground.ws.send('{\"type\": \"config\", \"config\": {\"points\": 1e9}}')")
    t.until("document.getElementById('error-text').textContent.includes('points')")
    t.page.click("#play")
    t.until("window.playground.frame.epoch > 10")  # the same connection trains on
    t.page.click("#play")


def test_tabs_train_their_own_networks_and_their_sessions_go_with_them(browser, server):
    wait_for(lambda: not server.sessions, what="the earlier tabs' sessions to end")
    base_sessions, base_threads = 0, session_threads()
    for _ in range(2):  # tabs come and go
        tabs = [Page(browser, server.url + f"#dataset={name}&layers={n}")
                for name, n in (("xor", 3), ("circle", 5), ("gaussians", 7))]
        assert len(server.sessions) == base_sessions + 3
        for t in tabs:
            t.page.click("#play")
        for t in tabs:
            t.until("window.playground.frame.epoch > 20")
        assert [t.frame()["sizes"][1] for t in tabs] == [3, 5, 7]  # each its own network
        assert len({t.frame()["epoch"] for t in tabs}) >= 1
        for t in tabs:
            assert not t.problems, t.problems
            t.close()
        # (a session ends after its thread's current step and the socket's close: slower on
        # a loaded 2-core machine, where 10 s once ran out)
        wait_for(lambda: len(server.sessions) == base_sessions and
                 session_threads() == base_threads, timeout=30.0,
                 what="the closed tabs' sessions to end")
