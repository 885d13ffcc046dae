"""This run's records and the earlier ones as dicts over the store (store.py), for code that
reads and updates records as a dict (containers, pixel statistics, the preview): nothing is held
in memory, iterating streams rows in source order."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, MutableMapping, ValuesView

from .store import Store, key, name_of, tree_output_of


class RecordTexts(MutableMapping[str, str]):
    """This run's records by source, as JSON text: a dict over the store, for code that reads
    and updates records as a dict (containers, pixel statistics, the preview). Iterating it,
    its items or its values streams them in source order; nothing is held."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getitem__(self, name: str) -> str:
        text = self.store.record_text(name)
        if text is None:
            raise KeyError(name)
        return text

    def __setitem__(self, name: str, text: str) -> None:
        self.store.add_record(name, tree_output_of(text), text)

    def __delitem__(self, name: str) -> None:
        if self.store.db.execute("DELETE FROM records WHERE name = ?", (key(name),)).rowcount < 1:
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        for name, _ in self.store.records():
            yield name

    def __len__(self) -> int:
        return self.store.record_count()

    def items(self) -> ItemsView[str, str]:
        return _Items(self)

    def values(self) -> ValuesView[str]:
        return _Values(self)


class _Items(ItemsView):
    def __iter__(self) -> Iterator[tuple[str, str]]:
        return self._mapping.store.records()


class _Values(ValuesView):
    def __iter__(self) -> Iterator[str]:
        return self._mapping.store.manifest_texts()


class PreviousTexts(Mapping[str, str]):
    """The earlier records (manifest and journal) by source, as JSON text, from the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getitem__(self, name: str) -> str:
        text = self.store.previous_texts([name]).get(name)
        if text is None:
            raise KeyError(name)
        return text

    def __iter__(self) -> Iterator[str]:
        query = "SELECT name FROM previous WHERE name > ? ORDER BY name LIMIT ?"
        for (name,) in self.store._rows(query, (b"",)):
            yield name_of(name)

    def __len__(self) -> int:
        return self.store.db.execute("SELECT COUNT(*) FROM previous").fetchone()[0]

    def values(self) -> ValuesView[str]:
        return _PreviousValues(self)


class _PreviousValues(ValuesView):
    def __iter__(self) -> Iterator[str]:
        query = "SELECT name, text FROM previous WHERE name > ? ORDER BY name LIMIT ?"
        for _, text in self._mapping.store._rows(query, (b"",)):
            yield text
