"""The files connector: a folder (``extra.path`` of the connection) whose files a stream's glob names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from connectors.files.csvfile import FileProblem
from connectors.files.formats import fields_of, format_of
from connectors.files.locate import files_of
from connectors.files.options import FilesOptions
from connectors.files.reader import FileReader
from hub.connector import Capabilities, Connector, EntityInfo, FieldInfo, OptionProblem, ReadRequest, SourceBatch
from hub.errors import ConfigError, DataError

#: fields every record has besides its file's own
ROW_FIELDS = {"_file": FieldInfo("_file", "string", nullable=False),
              "_row": FieldInfo("_row", "integer", nullable=False)}


class FilesConnector(Connector):
    name: ClassVar[str] = "files"
    # read ahead: the next batch is parsed while the runner waits on the target and the state store (a 300,000-row
    # price list into PostgreSQL: 4% faster); the reader's state lives in its generator, on that one thread
    capabilities: ClassVar[Capabilities] = Capabilities(incremental=frozenset({"hash", "cursor"}), read_ahead=True)
    source_options: ClassVar[type[BaseModel]] = FilesOptions

    @property
    def root(self) -> Path:
        path = self.connection.extra.get("path")
        if not path:
            raise ConfigError(f"connection {self.connection.describe()}: set extra.path to the folder of the files")
        root = Path(str(path)).expanduser()
        if not root.is_dir():
            raise ConfigError(f"connection {self.connection.describe()}: {root} is not a folder")
        return root

    def check(self) -> str:
        root = self.root
        return f"folder {root}: {sum(1 for p in root.rglob('*') if p.is_file())} files"

    def describe(self, entity: str) -> EntityInfo | None:
        return self.describe_source(entity, FilesOptions())

    def describe_source(self, stream: str, options: BaseModel) -> EntityInfo | None:
        """The header of the first file the stream names (``hub validate`` checks a mapping's fields against it)."""
        assert isinstance(options, FilesOptions)
        files = files_of(self.root, stream)
        if not files:
            return None
        first = files[0].path
        try:
            names = fields_of(first, options)
            kind = format_of(first, options)
        except FileProblem as exc:
            raise DataError(f"{files[0].name}: {exc.problem}") from None
        fields = {name: FieldInfo(name, "any") for name in names}
        if kind in ("json", "jsonl"):  # objects differ: the first ones do not tell every field
            fields["*"] = FieldInfo("*", "any")
        return EntityInfo(stream, {**fields, **ROW_FIELDS}, ("_file", "_row"))

    def option_problems(self, stream: str, options: BaseModel) -> Iterator[OptionProblem]:
        assert isinstance(options, FilesOptions)
        info = self.describe_source(stream, options)
        if info is None or "*" in info.fields:
            return
        for number, name in enumerate(options.numbers):
            if name not in info.fields:
                yield ("numbers", number), f"no column {name!r} in the file's header"

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        options = request.options if isinstance(request.options, FilesOptions) else FilesOptions()
        return FileReader(self.root, request, options).batches()
