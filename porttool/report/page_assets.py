"""The HTML report's style sheet and script, inlined into the page (it must open offline: no
fonts, images or scripts from anywhere). The script only switches the target shown and filters the
file table; everything is readable with scripts off."""

from __future__ import annotations

from collections.abc import Sequence

CSS = """
:root { --safe:#2f9e5b; --unsafe:#8e5bd0; --manual:#e07a2c; --kernel:#c9364a; --hint:#9fb3c8;
  --program:#7d8793; --ink:#1d2530; --muted:#5b6673; --line:#dfe4ea; --bg:#f6f8fa; --card:#fff;
  --heat:224,122,44; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color:var(--ink); background:var(--bg); }
header.page { background:#18222e; color:#fff; padding:22px 32px 16px; }
header.page h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header.page .meta { color:#b8c4d2; margin:0; }
header.page code { color:#fff; background:rgba(255,255,255,.1); }
nav.toc { display:flex; flex-wrap:wrap; gap:4px 14px; padding:8px 32px; background:#233142; }
nav.toc a { color:#d5e1ee; text-decoration:none; font-size:13px; }
nav.toc a:hover { text-decoration:underline; }
main { max-width:1180px; margin:0 auto; padding:8px 32px 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:6px 22px 18px;
  margin:18px 0; }
h2 { font-size:18px; margin:14px 0 8px; }
h3 { font-size:15px; margin:16px 0 6px; }
p.lead { color:var(--muted); margin:2px 0 10px; }
code { font:12.5px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#eef1f4;
  padding:1px 4px; border-radius:3px; }
table { border-collapse:collapse; width:100%; margin:6px 0 10px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td code, li code { overflow-wrap:anywhere; }
table.kernels { table-layout:fixed; }
table.kernels th:nth-child(1) { width:24%; } table.kernels th:nth-child(2) { width:9%; }
table.kernels th:nth-child(3) { width:35%; } table.kernels th:nth-child(4) { width:32%; }
table.kernels ul.sites { padding-left:16px; }
tr.total td { font-weight:600; border-top:2px solid var(--line); }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(300px, 1fr)); gap:14px; margin:10px 0 14px; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px 16px; background:#fbfcfd; }
.card.selected { border-color:#6d8fb3; box-shadow:0 0 0 2px rgba(109,143,179,.25); }
.card h3 { margin:0 0 2px; font-size:16px; }
.card .desc { color:var(--muted); font-size:12px; margin:0 0 8px; }
.card .score { font-size:34px; font-weight:700; line-height:1.1; }
.card .score small { font-size:13px; font-weight:400; color:var(--muted); }
.card dl { display:grid; grid-template-columns:auto 1fr; gap:2px 10px; margin:8px 0 0; }
.card dt { color:var(--muted); }
.card dd { margin:0; font-weight:600; }
.formula { font:13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#f1f4f7;
  border-left:3px solid #6d8fb3; padding:8px 12px; margin:8px 0; white-space:pre-wrap; }
.chart { display:block; max-width:100%; height:auto; margin:6px 0 10px; }
.chart text { font:12px -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill:var(--ink); }
.chart text.bar-value { fill:#fff; font-weight:600; font-size:11px; }
.chart text.chart-total { fill:var(--muted); }
.chart a text { fill:#1f5f9e; }
.seg-safe { fill:var(--safe); background:var(--safe); } .seg-unsafe { fill:var(--unsafe); background:var(--unsafe); }
.seg-manual { fill:var(--manual); background:var(--manual); } .seg-kernel { fill:var(--kernel); background:var(--kernel); }
.seg-hint { fill:var(--hint); background:var(--hint); } .seg-program { fill:var(--program); background:var(--program); }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:baseline; }
.scroll { overflow-x:auto; }
.scroll.tall { max-height:560px; overflow-y:auto; border-bottom:1px solid var(--line); }
.scroll.tall thead th { position:sticky; top:0; background:var(--card); }
table.heat { font-size:13px; }
table.heat th, table.heat td { padding:4px 6px; }
table.heat th { white-space:nowrap; }
td.heat { text-align:right; font-variant-numeric:tabular-nums; }
td.heat.zero { color:#c3cad2; }
.pill { display:inline-block; font-size:11.5px; padding:0 7px; border-radius:9px; background:#eef1f4; color:var(--muted);
  white-space:nowrap; }
.pill.low { background:#e6f4ea; color:#1e6b3a; } .pill.medium { background:#fff1e0; color:#8a4b0f; }
.pill.high { background:#fde7ea; color:#8f1d2c; }
.pill.python { background:#e7f0fb; color:#1f4f86; } .pill.standalone { background:#eceff2; color:#4b5563; }
.pill.build, .pill.included, .pill.unlinked { background:#fff6db; color:#7a5b00; }
details { margin:4px 0; }
details > summary { cursor:pointer; padding:3px 0; }
details.group { border:1px solid var(--line); border-radius:6px; padding:4px 10px; margin:6px 0; }
details.group > summary { font-weight:500; }
ul.sites { margin:4px 0 6px; padding-left:18px; }
ul.sites li { margin:1px 0; }
.muted { color:var(--muted); }
.target-switch { display:none; gap:6px; margin:10px 0 0; }
.js .target-switch { display:flex; }
.target-switch button { font:inherit; font-size:13px; padding:4px 12px; border-radius:14px; border:1px solid #5a6b7e;
  background:transparent; color:#d5e1ee; cursor:pointer; }
.target-switch button[aria-pressed="true"] { background:#d5e1ee; color:#18222e; }
input.filter { font:inherit; padding:4px 8px; border:1px solid var(--line); border-radius:4px; width:260px; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:12px; }
@media print { .target-switch, nav.toc, input.filter { display:none !important; } section { break-inside:avoid-page; } }
"""


def target_css(targets: Sequence[str]) -> str:
    """With the script on, only the chosen target's panels show (`body[data-target=T]`)."""
    return "".join(f'body[data-target="{t}"] .panel[data-target]:not([data-target="{t}"]){{display:none}}' for t in targets)


SCRIPT = """
(function () {
  var body = document.body;
  body.classList.add("js");
  var buttons = Array.prototype.slice.call(document.querySelectorAll(".target-switch button"));
  function show(target) {
    body.setAttribute("data-target", target);
    buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-target") === target)); });
  }
  buttons.forEach(function (b) { b.addEventListener("click", function () { show(b.getAttribute("data-target")); }); });
  if (buttons.length) { show(body.getAttribute("data-primary")); }
  var filter = document.getElementById("file-filter");
  if (filter) {
    filter.addEventListener("input", function () {
      var q = filter.value.toLowerCase();
      document.querySelectorAll("table.files tbody tr").forEach(function (row) {
        row.style.display = row.getAttribute("data-path").toLowerCase().indexOf(q) === -1 ? "none" : "";
      });
    });
  }
})();
"""
