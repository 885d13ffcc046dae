"""The journal on an object store: chunk objects written every N records (or T seconds), read
back in order by the next run, deleted once a manifest is written."""

from __future__ import annotations

import json

import pytest

from resizer.storage import journal
from resizer.storage.fsspec import open_store


@pytest.fixture
def store(s3):
    bucket = s3.bucket()
    return open_store(f"s3://{bucket}/out", (("endpoint_url", s3.endpoint),))


def records(count: int, start: int = 0) -> list[str]:
    return [json.dumps({"source": f"{i:03d}.jpg", "status": "ok"}) for i in range(start, count)]


def test_records_are_written_in_chunks_and_read_back_in_order(store, monkeypatch):
    monkeypatch.setattr(journal, "FLUSH_RECORDS", 3)
    killed = journal.ObjectJournal(store, "20260101T000000Z-aaaa", [])
    for record in records(7):
        killed.append(record)
    assert journal.chunk_names(store) == [
        ".resizer-journal-20260101T000000Z-aaaa-000000.jsonl",
        ".resizer-journal-20260101T000000Z-aaaa-000001.jsonl",
    ]
    killed.close(remove=False)  # a manifest that could not be written: the rest is kept too
    assert list(journal.read_chunks(store, journal.chunk_names(store))) == records(7)


def test_the_timer_writes_what_waits_and_the_next_run_deletes_every_chunk(store, monkeypatch):
    monkeypatch.setattr(journal, "FLUSH_SECONDS", 0.2)
    first = journal.ObjectJournal(store, "20260101T000000Z-aaaa", [])
    first.append(records(1)[0])
    first.closed.wait(3)  # long enough for several timer rounds
    assert list(journal.read_chunks(store, journal.chunk_names(store))) == records(1)
    first.closed.set()  # killed: never closed properly

    inherited = journal.chunk_names(store)
    second = journal.ObjectJournal(store, "20260101T000100Z-bbbb", inherited)
    second.append(records(2, 1)[0])
    second.close(remove=True)
    assert store.entries() == {}
