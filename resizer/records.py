"""The two small records that travel between the planner, the workers and the manifest.

Kept apart from the image code so that planning and re-runs import no image library.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Job:
    """One input image and where its output goes."""

    source: str  # path as given/walked, used to open the file
    name: str  # source relative to its SRC root, POSIX, as the manifest shows it
    output: str  # output path relative to OUT, POSIX
    format: str  # output format: jpeg | png | webp | tiff | bmp | gif
    # An object store's source (`source` is then its URL): size and ETag from the listing.
    src_bytes: int | None = None
    src_etag: str | None = None


@dataclass
class Result:
    """One manifest record: what OUT holds for one source. Field order is the column order.

    `status` describes the current output: ok, failed, or pending (found, but the run stopped
    before processing it). `run` is the id of the run that last processed the source, so a
    re-run that finds everything up to date leaves every record, byte for byte, as it was.
    """

    source: str
    output: str | None = None  # relative to OUT; with shards, the image's member name
    status: str = "failed"
    error: str | None = None
    src_format: str | None = None
    src_width: int | None = None
    src_height: int | None = None
    src_mode: str | None = None
    src_frames: int | None = None
    orientation: int | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    mode: str | None = None
    # Per channel of the pixels handed to the encoder (grey: one; colour: three; alpha last),
    # in their own units (0-255 or 0-65535): exact integer sums of the values and of their
    # squares, for the dataset's mean and std (pixelstats.py).
    pixel_sum: list[int] | None = None
    pixel_sumsq: list[int] | None = None
    bytes: int | None = None
    sha256: str | None = None
    shard: str | None = None  # --container webdataset: the shard holding the sample
    key: str | None = None  # --container webdataset: the sample's key
    mask_output: str | None = None  # the paired mask's output, relative to the masks output
    mask_bytes: int | None = None
    mask_sha256: str | None = None
    resize: list[int] | None = None
    crop_box: list[int] | None = None
    pad_offset: list[int] | None = None
    decode_scale: int | None = None
    src_bytes: int | None = None
    src_mtime_ns: int | None = None
    src_etag: str | None = None  # an object store's source: its ETag (instead of mtime)
    mask_src_bytes: int | None = None  # the paired mask file, for the up-to-date check
    mask_src_mtime_ns: int | None = None
    fingerprint: str | None = None
    run: str | None = None
    seconds: float | None = None
    # Set when an output could not be written: the output root (OUT or the masks folder) and
    # how many bytes it must still take for the run to go on (0: a few KiB will do). The parent
    # probes it; not part of the record.
    write_fault: tuple[str, int] | None = field(default=None, repr=False)
    # --container webdataset: (staging file, offset) of the encoded image until the parent packs
    # it into a shard (containers/staging.py). In the record (so in the journal, for the next
    # run after a kill) only while set; the shard's record replaces it.
    staged: tuple[str, int] | None = field(default=None, repr=False)

    def record(self) -> dict:
        """The manifest record: plain values, in column order (without `write_fault`; `staged`
        last, while set)."""
        record = {name: getattr(self, name) for name in RECORD_FIELDS}
        if self.staged is not None:
            record["staged"] = list(self.staged)
        return record


RECORD_FIELDS = [
    name for name in Result.__dataclass_fields__ if name not in ("write_fault", "staged")
]


def tree_output(record: dict) -> str | None:
    """The file in OUT's tree that a record names, if any: a sample in a shard (a record with a
    `shard`, `key` or `staged`) is none."""
    output = record.get("output")
    in_tree = all(record.get(name) is None for name in ("shard", "key", "staged"))
    return output if isinstance(output, str) and in_tree else None
