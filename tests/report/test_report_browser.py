"""The HTML report in a real browser: headless Chromium renders the page of a sample project; the
test reads the rendered DOM (after the page's script ran, with a probe script that measures what
was laid out), checks the numbers against `porttool scan`, checks in the screenshot that the
charts' bars were drawn in their colours, and keeps the screenshot as a test artifact
($PORTTOOL_TEST_ARTIFACTS, default tests/artifacts/).

Without Chromium the tests skip, except in CI (`CI` or `PORTTOOL_REQUIRE_BROWSER=1` set), where a
missing browser fails them: `.ci/run` installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from porttool.model import TARGETS

from png_pixels import read_png

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_models" / "cuda_extension"
WIDTH, HEIGHT = 1280, 1400
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
COLOURS = {"seg-safe": (0x2F, 0x9E, 0x5B), "seg-unsafe": (0x8E, 0x5B, 0xD0), "seg-manual": (0xE0, 0x7A, 0x2C), "seg-kernel": (0xC9, 0x36, 0x4A), "seg-hint": (0x9F, 0xB3, 0xC8)}


def _required() -> bool:
    ci = os.environ.get("CI", "").strip().lower()
    return (ci not in ("", "0", "false", "no")) or os.environ.get("PORTTOOL_REQUIRE_BROWSER") == "1"


def _browser() -> str:
    given = os.environ.get("PORTTOOL_CHROMIUM")
    found = given if given and shutil.which(given) else next((b for b in map(shutil.which, BROWSERS) if b), None)
    if found:
        return found
    message = "headless Chromium not found (install the Debian package `chromium`, or set PORTTOOL_CHROMIUM)"
    if _required():
        pytest.fail(message + "; CI / PORTTOOL_REQUIRE_BROWSER=1 requires it")
    pytest.skip(message)


def artifacts_dir() -> Path:
    where = Path(os.environ.get("PORTTOOL_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


PROBE = r"""
<script>
(function () {
  function box(el) { var r = el.getBoundingClientRect(); return {x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height}; }
  function all(sel, f) { return Array.prototype.map.call(document.querySelectorAll(sel), f); }
  function panels() { return all("#estimate .panel", function (p) { return [p.getAttribute("data-target"), getComputedStyle(p).display !== "none"]; }); }
  var out = {js: document.body.classList.contains("js"), target: document.body.getAttribute("data-target")};
  out.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
  out.overflow = document.documentElement.scrollWidth > window.innerWidth;
  out.charts = all("svg.chart", function (svg) {
    var b = box(svg);
    return {name: svg.getAttribute("data-chart"), w: b.w, h: b.h, bars: Array.prototype.map.call(svg.querySelectorAll("rect.bar"), function (r) {
      var bb = box(r); return {segment: r.getAttribute("data-segment"), value: Number(r.getAttribute("data-value")), css: r.getAttribute("class").replace("bar ", ""), x: bb.x, y: bb.y, w: bb.w, h: bb.h, fill: getComputedStyle(r).fill};
    })};
  });
  out.cards = all(".card", function (c) { return {target: c.getAttribute("data-target"), score: c.querySelector("[data-key=python-score]").textContent, hours: c.querySelector("[data-key=python-hours]").textContent, shown: c.getClientRects().length > 0}; });
  out.counts = all("table.counts tbody tr", function (r) {
    var row = {target: r.getAttribute("data-target"), scope: r.getAttribute("data-scope")};
    Array.prototype.forEach.call(r.querySelectorAll("[data-key]"), function (td) { row[td.getAttribute("data-key")] = td.textContent; });
    return row;
  });
  out.kernels = all("table.kernels tbody tr", function (r) { return {id: r.id, reach: r.getAttribute("data-reach"), text: r.innerText, shown: r.getClientRects().length > 0}; });
  out.panels = panels();
  var button = document.querySelector('.target-switch button[data-target="portable"]');
  if (button) { button.click(); out.target_after_click = document.body.getAttribute("data-target"); out.panels_after_click = panels(); document.querySelector('.target-switch button[data-target="' + out.target + '"]').click(); }
  var filter = document.getElementById("file-filter");
  if (filter) {
    filter.value = "train"; filter.dispatchEvent(new Event("input"));
    out.filtered = all('.panel[data-target="' + out.target + '"] table.files tbody tr', function (r) { return [r.getAttribute("data-path"), r.style.display !== "none"]; });
    filter.value = ""; filter.dispatchEvent(new Event("input"));
  }
  var pre = document.createElement("pre"); pre.id = "porttool-probe"; pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();
</script>
"""


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
        "--force-device-scale-factor=1", f"--window-size={WIDTH},{HEIGHT}", f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # the page must need no network
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The sample's report (all targets), its rendered DOM with the probe's measurements, and a
    screenshot of the page."""
    browser = _browser()
    work = tmp_path_factory.mktemp("browser")
    page = work / "report.html"
    env = {**os.environ, "PORTTOOL_CACHE_DIR": str(work / "cache")}
    import sys

    subprocess.run([sys.executable, "-m", "porttool", "report", ".", "--all-targets", "-o", str(page)], cwd=SAMPLE, env=env, check=True, capture_output=True, text=True)
    scans = {}
    for target in TARGETS:
        done = subprocess.run([sys.executable, "-m", "porttool", "scan", ".", "--target", target, "-f", "json", "--exit-zero"], cwd=SAMPLE, env=env, check=True, capture_output=True, text=True)
        scans[target] = json.loads(done.stdout)
    html = page.read_text(encoding="utf-8")
    probed = work / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(browser, work / "profile-dom", "--dump-dom", probed.as_uri()).stdout
    found = re.search(r'<pre id="porttool-probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe did not run: " + dom[-500:]
    probe = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&"))
    shot = artifacts_dir() / "report-cuda_extension.png"
    shot.unlink(missing_ok=True)
    _chromium(browser, work / "profile-shot", f"--screenshot={shot}", page.as_uri())
    shutil.copyfile(page, artifacts_dir() / "report-cuda_extension.html")
    return {"html": html, "dom": dom, "probe": probe, "screenshot": shot, "scans": scans}


def test_the_script_ran_and_nothing_was_fetched(rendered):
    probe = rendered["probe"]
    assert probe["js"] and probe["target"] == "neuron"
    assert probe["resources"] == []
    assert not probe["overflow"], "the page scrolls sideways at 1280 px"


def test_counts_on_the_rendered_page_are_the_scans(rendered):
    probe, scans = rendered["probe"], rendered["scans"]
    rows = {(r["target"], r["scope"]): r for r in probe["counts"]}
    for target in TARGETS:
        summary = scans[target]["summary"]
        every = rows[(target, "all")]
        assert int(every["sites"]) == summary["findings"]
        assert [int(every[k]) for k in ("safe", "unsafe", "manual", "hint")] == [summary["by_status"][k] for k in ("safe", "unsafe", "manual", "none")]
        python, kernel = rows[(target, "python")], rows[(target, "kernel")]
        assert int(python["sites"]) + int(kernel["sites"]) == summary["findings"]
        kernel_codes = {"PT701", "PT702", "PT703", "PT704", "PT711", "PT712"}
        assert int(kernel["sites"]) == sum(1 for f in scans[target]["findings"] if f["code"] in kernel_codes)
        fixable = sum(1 for f in scans[target]["findings"] if f["code"] not in kernel_codes and f["fix"]["status"] in ("safe", "unsafe"))
        actionable = sum(1 for f in scans[target]["findings"] if f["code"] not in kernel_codes and f["fix"]["status"] != "none")
        assert python["score"] == f"{100 * fixable / actionable:.1f}%"
        card = next(c for c in probe["cards"] if c["target"] == target)
        assert card["shown"] and card["score"].startswith(python["score"])


def test_charts_were_laid_out_with_the_pages_numbers(rendered):
    probe, scans = rendered["probe"], rendered["scans"]
    charts = {c["name"]: c for c in probe["charts"] if c["w"] > 0}
    assert {"python-port", "effort", "hours-by-directory-neuron", "kernel-sizes"} <= set(charts)
    assert all(c["h"] > 20 for c in charts.values())
    bars = [b for b in charts["python-port"]["bars"]]
    per_target = len(bars) // len(TARGETS)
    assert per_target >= 3
    neuron = [b for b in bars if abs(b["y"] - bars[0]["y"]) < 1]
    values = {b["segment"]: b["value"] for b in neuron}
    kernel_codes = {"PT701", "PT702", "PT703", "PT704", "PT711", "PT712"}
    python = [f for f in scans["neuron"]["findings"] if f["code"] not in kernel_codes]
    assert values == {label: n for label, n in (("safe fix", sum(f["fix"]["status"] == "safe" for f in python)), ("unsafe fix", sum(f["fix"]["status"] == "unsafe" for f in python)), ("manual", sum(f["fix"]["status"] == "manual" for f in python)), ("hint", sum(f["fix"]["status"] == "none" for f in python))) if n}
    unit = neuron[0]["w"] / neuron[0]["value"]
    for bar in neuron:  # one scale: widths are proportional to the counts
        assert bar["w"] == pytest.approx(bar["value"] * unit, rel=0.02)
    sizes = charts["kernel-sizes"]["bars"]
    assert [b["value"] for b in sizes] == sorted((b["value"] for b in sizes), reverse=True) and sizes[0]["value"] == 88


def test_the_screenshot_shows_the_bars_in_their_colours(rendered):
    image = read_png(rendered["screenshot"])
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    checked = 0
    for chart in rendered["probe"]["charts"]:
        for bar in chart["bars"]:
            if bar["w"] < 8 or bar["y"] + bar["h"] > HEIGHT or bar["css"] not in COLOURS:
                continue
            x, y = int(bar["x"] + max(3, bar["w"] * 0.1)), int(bar["y"] + 3)
            expected = COLOURS[bar["css"]]
            assert all(abs(a - b) <= 10 for a, b in zip(image.pixel(x, y), expected)), (chart["name"], bar, image.pixel(x, y))
            checked += 1
    assert checked >= 8
    background = image.pixel(5, HEIGHT - 5)
    assert all(abs(a - b) <= 4 for a, b in zip(background, (0xF6, 0xF8, 0xFA)))


def test_kernels_are_linked_to_their_python_call_sites(rendered):
    kernels = {k["id"]: k for k in rendered["probe"]["kernels"]}
    cu = kernels["k-csrc-fused-gelu-kernel-cu"]
    assert cu["reach"] == "python" and cu["shown"]
    assert "fused_ops/gelu.py:65" in cu["text"] and "fused_gelu_cuda" in cu["text"]
    assert "fused_ops/gelu.py:111" in cu["text"] and "bias_gelu_forward" in cu["text"]
    assert "train.py:38" in cu["text"]  # the training script, through FusedBiasGELU → bias_gelu
    assert "88 lines, 2 kernels" in cu["text"]
    triton = kernels["k-fused-ops-triton-kernels-py-scaled-add-kernel"]
    assert "torch.ops.fused_ops.scaled_add" in triton["text"] and "train.py:87" in triton["text"]
    inline = kernels["k-fused-ops-gelu-py-80-load-inline"]
    assert "fused_gelu_inline" in inline["text"] and "38 lines, 2 kernels" in inline["text"]
    assert "scaled_dot_product_attention" not in cu["text"]  # a GELU kernel gets GELU advice
    assert "torch.nn.functional.gelu" in cu["text"]


def test_the_target_switch_and_the_file_filter_work(rendered):
    probe = rendered["probe"]
    assert probe["panels"] == [[t, t == "neuron"] for t in TARGETS]
    assert probe["target_after_click"] == "portable"
    assert probe["panels_after_click"] == [[t, t == "portable"] for t in TARGETS]
    shown = {path for path, visible in probe["filtered"] if visible}
    assert shown == {path for path, _ in probe["filtered"] if "train" in path} and shown


def test_the_required_switch_makes_a_missing_browser_fail(monkeypatch):
    """In CI a missing browser is a failure, not a skip."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("PORTTOOL_CHROMIUM", raising=False)
    monkeypatch.setenv("PORTTOOL_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception):
        _browser()
    monkeypatch.delenv("PORTTOOL_REQUIRE_BROWSER")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        _browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        _browser()
