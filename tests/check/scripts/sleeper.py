import subprocess
import sys
import time

# A grandchild in the same process group must die with the command.
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(f"grandchild {child.pid}", flush=True)
time.sleep(120)
