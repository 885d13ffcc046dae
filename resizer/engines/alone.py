"""`python -m resizer.engines.alone`: process one image in a child process of its own.

Dask workers are daemonic processes and cannot start multiprocessing children, but they can run
a subprocess: an image suspected of killing workers is judged here, where a crash or a hang ends
only this child. The job and settings arrive pickled on stdin; the Result leaves on stdout.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

from ..records import Job, Result
from ..settings import Settings
from . import death_message, run_batch


def judge(job: Job, settings: Settings) -> Result:
    """Run in a worker: the image in a child process; its death fails only this image."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "resizer.engines.alone"],
            input=pickle.dumps((job, settings)),
            capture_output=True,
            timeout=settings.timeout + 30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        exitcode = None
        error = f"timed out after {settings.timeout:g} s (--timeout)"
    else:
        if done.returncode == 0 and done.stdout:
            return pickle.loads(done.stdout)
        exitcode = done.returncode
        error = death_message(exitcode, settings.timeout)
    return Result(source=job.name, fingerprint=settings.fingerprint, error=error)


def main() -> None:
    job, settings = pickle.loads(sys.stdin.buffer.read())
    [result] = run_batch([job], settings)
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
