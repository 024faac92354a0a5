"""Records events, then ignores SIGTERM and waits: no exit handler runs when the runner kills it.

A training script that traps SIGTERM (to checkpoint) or sits in a long native op looks the same to
the runner. The events are recorded through the recorder the mock's hooks use (importable here
because the runner puts inject/ on PYTHONPATH); torch is not imported, to keep the test fast.
"""
import signal
import sys
import time

from porttool_events import RECORDER

for _ in range(3):
    RECORDER.host_sync("item", sys._getframe())   # line 14
RECORDER.fp64_on_device("aten.mul.Tensor", sys._getframe())   # line 15
RECORDER.note("a note")
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
