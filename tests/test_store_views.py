"""Records and earlier records as dicts over the store: what containers, pixel statistics and
the preview read and update."""

from __future__ import annotations

import json

from resizer.store import Store
from resizer.store_views import PreviousTexts, RecordTexts


def test_records_and_earlier_records_read_and_update_as_dicts():
    """The containers, the pixel statistics and the preview read records as dicts."""
    store = Store()
    store.add_previous([("b", '{"source": "b", "output": "b.png"}'), ("a", '{"source": "a"}')])
    store.add_up_to_date([(1, "b", "b.png", None)])
    records, previous = RecordTexts(store), PreviousTexts(store)
    records["a"] = '{"source": "a", "output": "a.png"}'
    assert dict(records.items()) == {
        "a": '{"source": "a", "output": "a.png"}',
        "b": '{"source": "b", "output": "b.png"}',
    }
    assert (list(records), list(records.values()), len(records)) == (
        ["a", "b"],
        ['{"source": "a", "output": "a.png"}', '{"source": "b", "output": "b.png"}'],
        2,
    )
    assert records["b"] == previous["b"] and "c" not in records and previous.get("c") is None
    assert (list(previous), len(previous)) == (["a", "b"], 2)
    assert list(previous.values()) == ['{"source": "a"}', '{"source": "b", "output": "b.png"}']
    del records["a"]
    assert list(records) == ["b"]


def test_a_sample_in_a_shard_is_no_stale_output_of_the_tree():
    store = Store()
    sample = json.dumps({"source": "a", "output": "a.jpg", "shard": "shard-000000.tar"})
    store.add_previous([("a", sample), ("b", json.dumps({"source": "b", "output": "b.jpg"}))])
    assert [output for output, _ in store.stale_outputs()] == ["b.jpg"]
    records = RecordTexts(store)
    records["x"] = json.dumps({"source": "x", "output": "b.jpg", "key": "x"})  # a sample too
    assert [output for output, _ in store.stale_outputs()] == ["b.jpg"]
