"""Fault injection for tests: a fake image format whose decoder misbehaves on purpose.

Tests put this folder on PYTHONPATH of a `resizer` subprocess; every interpreter of that run
(the parent and each worker) then imports it at start-up and Pillow learns the POISON format:
a file starting with b"POISON" followed by an action word and a newline.

    POISON SEGV   the decoding process dies of SIGSEGV, as a crashing C decoder would
    POISON HANG   the decoder never returns
    POISON KILL   the decoding process is killed (SIGKILL), as the kernel's OOM killer does
    POISON SLOW   the decoder takes 0.3 s, then yields a valid 16x16 grey image
    POISON LATESEGV  the decoder takes 1 s, then its process dies of SIGSEGV

With POISON_LOG set to a file name, each decode first appends "ACTION PID" to that file, so a
test can tell which stage of a run is decoding what.
"""

import os
import signal
import time

from PIL import Image, ImageFile

MAGIC = b"POISON"


class PoisonImageFile(ImageFile.ImageFile):
    format = "POISON"
    format_description = "test image that misbehaves"

    def _open(self):
        action = self.fp.readline()[len(MAGIC) :].strip()
        if os.environ.get("POISON_LOG"):
            with open(os.environ["POISON_LOG"], "a") as log:
                log.write(f"{action.decode()} {os.getpid()}\n")
        if action == b"LATESEGV":
            time.sleep(1)
            action = b"SEGV"
        if action == b"SEGV":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif action == b"KILL":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == b"HANG":
            time.sleep(3600)
        elif action == b"SLOW":
            time.sleep(0.3)
        self._mode = "L"
        self._size = (16, 16)
        self.tile = [ImageFile._Tile("raw", (0, 0, 16, 16), self.fp.tell(), ("L", 0, 1))]


def poison_bytes(action: str) -> bytes:
    return MAGIC + b" " + action.encode() + b"\n" + bytes(range(256))


Image.register_open(PoisonImageFile.format, PoisonImageFile, lambda prefix: prefix[:6] == MAGIC)
