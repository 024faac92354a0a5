"""Where a worker pool starts to pay: `-j 1` against a forced 2-worker pool on growing subsets of
the torch package (every k-th file), `--no-cache`. Re-run it when the per-file scan gets faster
and move `porttool.pool.POOL_MIN_BYTES` accordingly (a quiet machine gives the useful wall times).

    python benchmarks/pool_threshold.py [--steps 30,15,8,4,2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ROOT, copy_files, measure, python_files, torch_package_dir

FORCED = """
import sys
if __name__ == "__main__":
    import porttool.pool as pool
    pool.POOL_MIN_BYTES = int(sys.argv[1])
    sys.argv = ["porttool", "scan", *sys.argv[2:]]
    from porttool.cli import main
    main()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="30,15,8,4,2", help="take every k-th torch file, for each k")
    args = parser.parse_args()
    package = torch_package_dir()
    if package is None:
        sys.stderr.write("torch is not installed\n")
        return 1
    files = python_files(package)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTOOL_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    print(f"{'MB':>6} {'files':>6}  {'-j 1 cpu':>9} {'wall':>6}  {'pool cpu':>9} {'wall':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        script = work / "forced.py"
        script.write_text(FORCED)
        for step in (int(s) for s in args.steps.split(",")):
            subset = files[::step]
            dest = work / f"every{step}" / "s"
            copy_files(subset, package, dest)
            size = sum(p.stat().st_size for p in subset)
            common = ["s", "--no-cache", "-f", "json", "-o", os.devnull, "--exit-zero"]
            serial = measure([sys.executable, str(script), str(10**12), *common, "-j", "1"], cwd=dest.parent, env=env)
            pooled = measure([sys.executable, str(script), "1", *common, "-j", "2"], cwd=dest.parent, env=env)
            print(f"{size / 2**20:6.1f} {len(subset):6}  {serial.cpu_s:9.2f} {serial.wall_s:6.2f}  {pooled.cpu_s:9.2f} {pooled.wall_s:6.2f}", flush=True)
    print(f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
