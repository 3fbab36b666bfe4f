"""The simulator's own call detail records, written the way Asterisk's ``cdr_csv`` writes ``Master.csv``.

One line per CDR, appended and flushed as each call leg ends (like cdr_csv, which opens, appends and closes
the file for every record). Columns (cdr.conf ``[csv]`` with ``loguniqueid=yes``, ``loguserfield=yes``)::

    "accountcode","src","dst","dcontext","clid","channel","dstchannel","lastapp","lastdata",
    "start","answer","end",duration,billsec,"disposition","amaflags","uniqueid","userfield"

and, with ``newcdrcolumns=yes``, three more: ``"peeraccount","linkedid",sequence``. Text is quoted with
inner quotes doubled; numbers are bare. Times are local wall-clock times of the PBX (``usegmtime=no``).
"""

from __future__ import annotations

import threading
from pathlib import Path

_TEXT_FIELDS = ("AccountCode", "Source", "Destination", "DestinationContext", "CallerID", "Channel",
                "DestinationChannel", "LastApplication", "LastData", "StartTime", "AnswerTime", "EndTime")


def _text(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def csv_line(cdr: dict[str, str], linkedid: str | None = None, sequence: int | None = None) -> str:
    parts = [_text(cdr.get(name, "")) for name in _TEXT_FIELDS]
    parts += [str(int(cdr.get("Duration") or 0)), str(int(cdr.get("BillableSeconds") or 0))]
    parts += [_text(cdr.get("Disposition", "")), _text(cdr.get("AMAFlags", "DOCUMENTATION")),
              _text(cdr.get("UniqueID", "")), _text(cdr.get("UserField", ""))]
    if linkedid is not None:
        parts += [_text(cdr.get("PeerAccount", "")), _text(linkedid), str(sequence or 0)]
    return ",".join(parts) + "\n"


class MasterCsv:
    def __init__(self, path: Path, newcdrcolumns: bool = False):
        self.path = path
        self.newcdrcolumns = newcdrcolumns
        self.rows = 0
        self._sequence = 0
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, cdr: dict[str, str], linkedid: str) -> None:
        with self._lock:
            self._sequence += 1
            line = csv_line(cdr, linkedid if self.newcdrcolumns else None, self._sequence)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
            self.rows += 1
