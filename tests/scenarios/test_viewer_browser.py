"""viewer.html in a real browser: Debian's chromium, headless, driven by selenium.

Skipped only where chromium (or chromedriver, or selenium) is missing and the ``CI``
environment variable is unset; under CI a missing browser fails. Set
``SWARM_VIEWER_SCREENSHOT=docs/viewer.png`` to save the consensus page's screenshot (the
README's picture).
"""

import io
import json
import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from scenarios.kinds import dbp as dbp_kind
from scenarios.runner import load_scenario, run_scenario
from swarm.attacks import make_attack, select_byzantine
from swarm.simulate import simulate_consensus
from swarm.topology import robust_geometric, to_csr
from swarm.viewer import write_consensus_viewer

CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    for exe in ("chromium", "chromedriver"):
        if shutil.which(exe) is None:
            return f"{exe} is not installed (apt-get install -y chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the browser test cannot run: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in CHROME_ARGS:
        opts.add_argument(a)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def open_page(driver, path):
    driver.get(path.resolve().as_uri())
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert driver.execute_script("return typeof window.swarmViewer") == "object"


def css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def not_blank(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    a = np.asarray(img, dtype=float)
    assert a.std() > 10
    assert len(img.getcolors(maxcolors=1 << 20)) > 50
    return img


def reference_trim(x, received, f):
    """W-MSR's trimming from its definition, by sorting: (trimmed values, mean)."""
    fin = [v for v in received if np.isfinite(v)]
    above = sorted((v for v in fin if v > x), reverse=True)
    below = sorted(v for v in fin if v < x)
    kept = above[f:] + below[f:] + [v for v in fin if v == x]
    return sorted(above[:f] + below[:f]), (x + sum(kept)) / (1 + len(kept))


def test_consensus_viewer(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    sc = load_scenario("byzantine-consensus", ["n_robots=40", "rounds=60", "gif_frames=2"])
    out = tmp_path / "run"
    outcome = run_scenario(sc, seed=sc.seed, out_dir=out, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    G, results = outcome.data["graph"], outcome.data["results"]
    lcp, wmsr = results
    open_page(browser, out / "viewer.html")
    n = 40
    for p in ("lcp", "wmsr"):
        assert len(css(browser, f"#panel-{p} circle.robot")) == n
        assert len(css(browser, f"#panel-{p} circle.robot.byz")) == len(summary["byzantine"])
        shown = float(css(browser, f"#panel-{p} .final-value")[0].text)
        assert shown == pytest.approx(summary[p]["final_spread"], rel=1e-5, abs=1e-300)
    # Robustness links are exactly the edges longer than the radio range.
    pos = np.array([G.nodes[i]["pos"] for i in range(n)])
    length = np.array([np.hypot(*(pos[a] - pos[b])) for a, b in G.edges()])
    radius = sc.params["radio_range"]
    robust_d = css(browser, "#panel-wmsr path.robust")[0].get_attribute("d")
    radio_d = css(browser, "#panel-wmsr path.radio")[0].get_attribute("d")
    assert robust_d.count("M") == int((length > radius).sum()) > 0
    assert radio_d.count("M") == int((length <= radius).sum()) > 0

    # Click the honest robot farthest from the others (nothing covers its circle).
    byz = wmsr.byzantine
    d = np.hypot(*(pos[:, None] - pos[None]).transpose(2, 0, 1)) + np.eye(n) * 9
    i = int(np.argmax(np.where(byz, -1, d.min(axis=1))))
    circle = css(browser, f'#panel-wmsr circle.robot[data-robot="{i}"]')[0]
    ActionChains(browser).move_to_element(circle).click().perform()
    assert css(browser, "#robot-title")[0].text.startswith(f"robot {i} ")
    # Move the slider to round k with the keyboard.
    k = 25
    slider = css(browser, "#round")[0]
    slider.send_keys(Keys.HOME)
    for _ in range(k):
        slider.send_keys(Keys.ARROW_RIGHT)
    assert css(browser, "#round-label")[0].text == f"round {k} / 60"
    for p, res in (("lcp", lcp), ("wmsr", wmsr)):
        shown = float(css(browser, f"#value-{p}")[0].text)
        assert shown == pytest.approx(res.trajectories[k, i], rel=1e-10)
    indptr, indices = to_csr(G)
    assert len(css(browser, "#received-wmsr tr")) == 1 + indptr[i + 1] - indptr[i]

    # The page's trimming against the kernel: the values it rebuilds are what the
    # simulation fed protocols.wmsr, its trimmed set is the rule's, and the mean of what
    # it keeps is the kernel's next value.
    from_byz = byz[indices]
    checked = 0
    for t in (0, 1, 10, 40, 59):
        msgs = wmsr.trajectories[t][indices]
        msgs[from_byz] = wmsr.messages[t]
        robots = np.flatnonzero(~byz)
        page = browser.execute_script(
            "return arguments[0].map((r) => window.swarmViewer.received(1, r, arguments[1]));",
            robots.tolist(),
            t,
        )
        for r, got in zip(robots, page, strict=True):
            sl = slice(indptr[r], indptr[r + 1])
            assert [row["from"] for row in got["rows"]] == indices[sl].tolist()
            np.testing.assert_array_equal([row["value"] for row in got["rows"]], msgs[sl])
            trimmed, mean = reference_trim(wmsr.trajectories[t, r], msgs[sl], wmsr.f)
            page_trimmed = sorted(
                row["value"] for row in got["rows"] if row["status"].startswith("trimmed")
            )
            assert page_trimmed == trimmed
            assert got["mean"] == pytest.approx(wmsr.trajectories[t + 1, r], rel=1e-12)
            assert mean == pytest.approx(wmsr.trajectories[t + 1, r], rel=1e-12)
            checked += len(trimmed) > 0
    assert checked > 20

    # Play advances the rounds; pause stops them.
    play = css(browser, "#play")[0]
    play.click()
    time.sleep(0.6)
    play.click()
    moved = int(slider.get_attribute("value"))
    assert moved > k
    time.sleep(0.4)
    assert int(slider.get_attribute("value")) == moved
    slider.send_keys(Keys.HOME)
    for _ in range(k):
        slider.send_keys(Keys.ARROW_RIGHT)
    img = not_blank(browser.get_screenshot_as_png())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    target = os.environ.get("SWARM_VIEWER_SCREENSHOT")
    if target:
        img.thumbnail((1000, 1000))
        img.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE).save(target, optimize=True)


def test_thinned_page_states_its_stride(browser, tmp_path):
    rng = np.random.default_rng(5)
    G = robust_geometric(30, 3, 0.25, rng)
    indptr, indices = to_csr(G)
    byz = select_byzantine(indptr, indices, 1, rng, threat="total")
    res = [
        simulate_consensus(
            G,
            rng.random(30),
            byz,
            make_attack("two_faced"),
            protocol="wmsr",
            f=1,
            rounds=41,
            rng=np.random.default_rng(0),
            record_messages=4,
        )
    ]
    pos = np.array([G.nodes[i]["pos"] for i in range(30)])
    path = write_consensus_viewer(tmp_path / "v.html", G, res, pos, radius=0.25, stride=4)
    open_page(browser, path)
    assert "every 4-th round" in css(browser, "#thin-note")[0].text
    slider = css(browser, "#round")[0]
    assert slider.get_attribute("max") == "11"  # rounds 0, 4, ..., 40 and 41
    browser.execute_script("window.swarmViewer.select(3); window.swarmViewer.setRound(5);")
    assert css(browser, "#round-label")[0].text == "round 20 / 41"
    assert float(css(browser, "#value-wmsr")[0].text) == pytest.approx(
        res[0].trajectories[20, 3], rel=1e-10
    )


@pytest.mark.parametrize("name", ["dbp-target-tracking", "dbp-time-sync", "dbp-localization"])
def test_dbp_viewer(browser, tmp_path, name):
    sc = load_scenario(
        name,
        ["n_robots=40", "ticks=24", "arena=60.0", "gif_frames=2", "claims=false"],
    )
    # The kind's run and its viewer only (test_dbp_scenarios writes every artifact).
    outcome = dbp_kind.run(sc.params, seed=sc.seed)
    summary = outcome.summary
    open_page(browser, dbp_kind.write_viewer(outcome, tmp_path))
    defences = summary["defences"]
    for name, entry in defences.items():
        assert len(css(browser, f"#panel-{name} circle.robot")) == 40
        assert len(css(browser, f"#panel-{name} circle.robot.byz")) == summary["n_byzantine"]
        assert float(css(browser, f"#panel-{name} .final-value")[0].text) == pytest.approx(
            entry["final_error"], rel=1e-5
        )
    browser.execute_script("var s = window.swarmViewer; s.setRound(s.rounds.length - 1);")
    dbp = defences["dbp"]
    blocked = len(css(browser, "#panel-dbp circle.robot.blocked"))
    assert blocked == dbp["byzantine_blocked"] + dbp["cooperative_wrongly_blocked"] > 0
    assert css(browser, "#panel-none circle.robot.blocked") == []
    acc = css(browser, "#panel-dbp path.accuse")[0].get_attribute("d")
    assert acc.count("M") == dbp["accusations"] > 0
    not_blank(browser.get_screenshot_as_png())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
