"""The reference CRM database for the demo and the tests: build it, fill it with realistic Russian data.

The tables come from ``config/crm/schema.yaml`` (declarative, so the schema can be read without Python).
:func:`generate` makes the rows (pure and deterministic: the same ``seed`` gives the same data on every
machine); :func:`seed` writes them. Works on PostgreSQL, MariaDB/MySQL, Firebird and SQLite.

Nothing in the hub depends on this schema: it is one example of a customer's CRM.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from connectors.crm_db.engine import normalize_url
from connectors.crm_db.queries import chunked
from sandbox.inn import make_inn, make_kpp

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "config" / "crm" / "schema.yaml"
STAGES = ("new", "in_progress", "shipped", "invoiced", "paid", "lost")
#: a fixed "now": the data must not depend on the day it is generated
BASE_TIME = datetime(2025, 3, 3, 9, 0)

Row = dict[str, Any]

# -- schema ----------------------------------------------------------------------------------------------

_TYPES: dict[str, Any] = {
    "integer": lambda spec: sa.Integer(),
    "bigint": lambda spec: sa.BigInteger(),
    "string": lambda spec: sa.String(spec["length"]),
    "text": lambda spec: sa.Text(),
    "decimal": lambda spec: sa.Numeric(spec["precision"], spec["scale"]),
    "boolean": lambda spec: sa.Boolean(),
    "date": lambda spec: sa.Date(),
    "datetime": lambda spec: sa.DateTime(),
}


def load_schema(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    """The ``tables`` mapping of the schema file."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["tables"]  # type: ignore[no-any-return]


def build_metadata(db_schema: str | None = None, path: Path = SCHEMA_FILE) -> sa.MetaData:
    """SQLAlchemy tables for the schema file (in ``db_schema``: a PostgreSQL schema / MySQL database)."""
    metadata = sa.MetaData(schema=db_schema)
    for name, spec in load_schema(path).items():
        columns = [_column(name, col_name, col_spec) for col_name, col_spec in spec["columns"].items()]
        uniques = [sa.UniqueConstraint(*cols, name=f"uq_{name}_{'_'.join(cols)}") for cols in spec.get("unique", [])]
        indexes = [sa.Index(f"ix_{name}_{'_'.join(cols)}", *cols) for cols in spec.get("indexes", [])]
        sa.Table(name, metadata, *columns, *uniques, *indexes, comment=spec.get("description"))
    return metadata


def _column(table: str, name: str, spec: dict[str, Any]) -> sa.Column[Any]:
    args: list[Any] = [_TYPES[spec["type"]](spec)]
    if "references" in spec:
        ref_table, ref_column = spec["references"].split(".")
        args.append(sa.ForeignKey(f"{ref_table}.{ref_column}", name=f"fk_{table}_{name}"))
    return sa.Column(
        name, *args,
        primary_key=spec.get("primary_key", False),
        autoincrement=True if spec.get("primary_key") else "auto",
        nullable=spec.get("nullable", True) and not spec.get("primary_key", False),
        index=spec.get("index") or None,
        server_default=_server_default(spec.get("default")),
    )


def _server_default(value: Any) -> Any:
    if value is None:
        return None
    if value == "now":
        return sa.func.current_timestamp()
    if isinstance(value, bool):
        return sa.true() if value else sa.false()
    return str(value)


def ddl(dialect: str = "firebird", server_version: tuple[int, ...] = (3, 0)) -> str:
    """The reference schema as SQL for ``dialect`` (``python -m sandbox.crm ddl firebird``): for a DBA who
    creates the CRM's tables by hand (``isql-fb -i``) instead of letting the demo create them.

    The dialect is told the server's version because it picks types and identity syntax by it.
    """
    statements: list[str] = []
    engine = sa.create_mock_engine(
        f"{dialect}://", lambda sql, *_, **__: statements.append(_tidy(str(sql.compile(dialect=engine.dialect)))))
    engine.dialect.server_version_info = server_version
    if dialect == "firebird":  # what the dialect learns on connecting: the server version's reserved words
        from sqlalchemy_firebird import fb_info30, fb_info40

        words = fb_info30.RESERVED_WORDS if server_version < (4,) else fb_info40.RESERVED_WORDS
        engine.dialect.identifier_preparer.reserved_words = set(words)
    build_metadata().create_all(engine, checkfirst=False)  # type: ignore[arg-type]  # a mock engine runs DDL
    header = (f"-- The reference CRM schema for {dialect} {'.'.join(map(str, server_version))}, generated from "
              f"config/crm/schema.yaml\n-- by `python -m sandbox.crm ddl {dialect}`; do not edit by hand.\n\n")
    ordered: list[str] = []  # a table's indexes come from a set: sorted, so the file is the same on every run
    for is_index, group in itertools.groupby(statements, key=lambda statement: statement.startswith("CREATE INDEX")):
        run = list(group)
        ordered.extend(sorted(run) if is_index else run)
    return header + "".join(f"{statement};\n\n" for statement in ordered) + "COMMIT;\n"


def _tidy(statement: str) -> str:
    return "\n".join(line.rstrip() for line in statement.strip().splitlines())


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(normalize_url(url))


def create_schema(url: str, *, db_schema: str | None = None, drop_existing: bool = False) -> sa.MetaData:
    """Create the reference tables (that do not exist yet) in the database at ``url``."""
    metadata = build_metadata(db_schema)
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            if drop_existing:
                metadata.drop_all(conn)
            metadata.create_all(conn)
    finally:
        engine.dispose()
    return metadata


def seed(url: str, clients: int = 200, seed: int = 42, *, db_schema: str | None = None) -> dict[str, int]:
    """Create the schema if needed and fill the (empty) tables; returns the row count per table."""
    metadata = create_schema(url, db_schema=db_schema)
    data = generate(clients=clients, seed=seed)
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            for table in metadata.sorted_tables:  # parents before children
                for chunk in chunked(data[table.name]):
                    conn.execute(table.insert(), chunk)
            _advance_sequences(conn, metadata)
    finally:
        engine.dispose()
    return {name: len(rows) for name, rows in data.items()}


def _advance_sequences(conn: sa.Connection, metadata: sa.MetaData) -> None:
    """PostgreSQL and Firebird do not move a SERIAL sequence / identity past ids inserted explicitly; later
    inserts need them to."""
    if conn.dialect.name == "firebird.firebird":
        _restart_identities(conn, metadata)
        return
    if conn.dialect.name != "postgresql":
        return  # MySQL AUTO_INCREMENT and SQLite rowids follow the largest id by themselves
    for table in metadata.sorted_tables:
        name = conn.dialect.identifier_preparer.format_table(table)
        conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence(:t, 'id'), (SELECT COALESCE(MAX(id), 0) + 1 "
                             f"FROM {name}), false)"), {"t": name})


def _restart_identities(conn: sa.Connection, metadata: sa.MetaData) -> None:
    # RESTART WITH takes a literal; Firebird 3 hands out the value after it, 4 and later the value itself
    for table in metadata.sorted_tables:
        name = conn.dialect.identifier_preparer.format_table(table)
        if "id" in table.c and table.c.id.primary_key:
            top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
            conn.exec_driver_sql(f"ALTER TABLE {name} ALTER COLUMN id RESTART WITH {int(top) + 1}")


# -- data ------------------------------------------------------------------------------------------------

MALE_FIRST = ("Иван", "Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил", "Николай", "Павел", "Олег", "Артём")
FEMALE_FIRST = ("Анна", "Елена", "Ольга", "Мария", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана", "Юлия")
FATHERS = ("Иванов", "Петров", "Сергеев", "Алексеев", "Николаев", "Андреев", "Михайлов", "Владимиров", "Викторов")
SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
            "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов")
ROOTS = ("Вектор", "Гранит", "Меридиан", "Альянс", "Прогресс", "Импульс", "Спектр", "Атлант", "Горизонт",
         "Союз", "Магистраль", "Основа", "Фортуна", "Ресурс", "Партнёр", "Эталон", "Кварц", "Орион")
PREFIXES = ("", "", "Техно", "Строй", "Агро", "Энерго", "Пром", "Транс", "Торг", "Инфо", "Мед", "Север")
LEGAL_FORMS = (("ООО", "Общество с ограниченной ответственностью", 12), ("ИП", "Индивидуальный предприниматель", 5),
               ("АО", "Акционерное общество", 2), ("ПАО", "Публичное акционерное общество", 1))
CITIES = {"77": "г. Москва", "50": "Московская обл., г. Химки", "78": "г. Санкт-Петербург",
          "66": "г. Екатеринбург", "16": "г. Казань", "52": "г. Нижний Новгород", "54": "г. Новосибирск",
          "23": "г. Краснодар"}
STREETS = ("ул. Ленина", "ул. Садовая", "пр-т Мира", "ул. Гагарина", "ул. Промышленная", "Лесная ул.",
           "ул. Заводская", "наб. Реки Мойки", "ул. Советская", "Новый пер.")
PRODUCTS = (
    ("PAP-A4-500", "Бумага офисная А4, 500 л.", "389.00"), ("CRT-HP-85A", "Картридж HP 85A", "4200.00"),
    ("CBL-VVG-325", "Кабель ВВГнг 3x2,5, м", "98.50"), ("GLV-XB-01", "Перчатки рабочие х/б", "45.00"),
    ("PNT-FAS-10", "Краска фасадная белая, 10 л", "3150.00"), ("SCR-4275-1K", "Саморез 4,2x75, 1000 шт.", "1250.00"),
    ("NB-LEN-IP3", "Ноутбук Lenovo IdeaPad 3", "54990.00"), ("MON-SAM-24", "Монитор Samsung 24\"", "14990.00"),
    ("DSK-1260", "Стол офисный 1200x600", "7800.00"), ("CHR-OFF-02", "Кресло офисное", "9990.00"),
    ("WTR-19L", "Вода питьевая, 19 л", "350.00"), ("COF-BEAN-1", "Кофе в зёрнах, 1 кг", "1890.00"),
    ("LED-36W", "Светильник светодиодный 36 Вт", "1450.00"), ("PPR-20", "Труба ПП 20 мм, м", "62.00"),
    ("CEM-M500", "Цемент М500, 50 кг", "520.00"),
)
PHONE_STYLES = ("8 ({a}) {b}-{c}-{d}", "+7 {a} {b} {c} {d}", "+7{a}{b}{c}{d}", "8-{a}-{b}-{c}-{d}",
                "7 ({a}) {b}{c}{d}", "({a}) {b}-{c}-{d}", "8{a}{b}{c}{d}")
_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                      "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"], strict=True))


def translit(text: str) -> str:
    """Latin letters for an e-mail address ("СтройГранит" -> "stroygranit")."""
    return "".join(_TRANSLIT.get(ch, ch if ch.isascii() and ch.isalnum() else "") for ch in text.lower())


def format_phone(digits: str, style: str) -> str:
    """A 10-digit Russian number written the way people type it."""
    return style.format(a=digits[:3], b=digits[3:6], c=digits[6:8], d=digits[8:])


def generate(clients: int = 200, seed: int = 42) -> dict[str, list[Row]]:
    """Every table's rows, deterministic for a seed (parents first; ids assigned here)."""
    return _Generator(random.Random(seed)).run(clients)


@dataclass
class _Generator:
    rng: random.Random
    rows: dict[str, list[Row]] = field(default_factory=lambda: {name: [] for name in load_schema()})
    used_inns: set[str] = field(default_factory=set)
    used_names: set[str] = field(default_factory=set)

    def run(self, clients: int) -> dict[str, list[Row]]:
        self.managers()
        self.products()
        for _ in range(clients):
            client = self.client()
            self.contacts(client)
            for _ in range(self.rng.choices((0, 1, 2, 3, 4), weights=(2, 4, 3, 2, 1))[0]):
                self.deal(client)
        self.cover_every_stage()
        self.leads(max(clients // 2, 3))
        self.calls(max(clients * 2, 10))
        self.call_requests(max(clients // 10, 3))
        return self.rows

    # -- helpers
    def add(self, table: str, row: Row) -> Row:
        row = {"id": len(self.rows[table]) + 1, **row}
        self.rows[table].append(row)
        return row

    def moment(self, days_back: int = 120) -> datetime:
        return BASE_TIME - timedelta(days=self.rng.randint(0, days_back), minutes=self.rng.randint(0, 600))

    def mobile(self) -> str:
        return self.rng.choice(("916", "903", "925", "985", "962", "999", "495", "499", "812", "343")) + \
            f"{self.rng.randint(0, 9_999_999):07d}"

    def person(self) -> tuple[str, str, str]:
        """(surname, first name, patronymic) agreeing in gender."""
        female = self.rng.random() < 0.45
        surname = self.rng.choice(SURNAMES) + ("а" if female else "")
        first = self.rng.choice(FEMALE_FIRST if female else MALE_FIRST)
        patronymic = self.rng.choice(FATHERS) + ("на" if female else "ич")
        return surname, first, patronymic

    # -- tables
    def managers(self) -> None:
        for extension in range(101, 106):
            surname, first, patronymic = self.person()
            self.add("managers", {
                "full_name": f"{surname} {first} {patronymic}", "extension": str(extension),
                "email": f"{translit(surname)}.{translit(first[0])}@crm-demo.ru",
                "phone": "+7" + self.mobile(), "active": True, "updated_at": BASE_TIME - timedelta(days=200),
            })

    def products(self) -> None:
        """The price list deal items refer to by sku (no randomness: the other tables stay as they were)."""
        for sku, name, price in PRODUCTS:
            self.add("products", {"sku": sku, "name": name, "unit": "м" if name.endswith(", м") else "шт",
                                  "price": Decimal(price), "updated_at": BASE_TIME - timedelta(days=300)})

    def client(self) -> Row:
        form, form_full, _weight = self.rng.choices(LEGAL_FORMS, weights=[f[2] for f in LEGAL_FORMS])[0]
        individual = form == "ИП"
        inn = make_inn(self.rng, individual=individual)
        while inn in self.used_inns:
            inn = make_inn(self.rng, individual=individual)
        self.used_inns.add(inn)
        if individual:
            surname, first, patronymic = self.person()
            title = f"{surname} {first} {patronymic}"
            name, full_name = f"ИП {title}", f"{form_full} {title}"
            email = f"{translit(surname)}.{translit(first[0])}@" + self.rng.choice(("mail.ru", "yandex.ru", "bk.ru"))
        else:
            title = self.company_title()
            name, full_name = f"{form} «{title}»", f"{form_full} «{title}»"
            email = self.rng.choice(("info", "sales", "office", "zakaz", "buh")) + f"@{translit(title)}.ru"
        created = self.moment(365)
        return self.add("clients", {
            "name": name, "full_name": full_name, "legal_form": form, "inn": inn,
            "kpp": "" if individual else make_kpp(inn, self.rng),
            "phone": format_phone(self.mobile(), self.rng.choice(PHONE_STYLES)), "email": email,
            "address": f"{CITIES.get(inn[:2], 'г. Москва')}, {self.rng.choice(STREETS)}, д. {self.rng.randint(1, 120)}",
            "manager_id": self.rng.randint(1, 5), "onec_ref": None,
            "created_at": created, "updated_at": created + timedelta(days=self.rng.randint(0, 60)),
        })

    def company_title(self) -> str:
        while True:
            title = self.rng.choice(PREFIXES) + self.rng.choice(ROOTS)
            title += self.rng.choice(("", "", "", " Плюс", "-М", " Групп"))
            if title not in self.used_names:
                self.used_names.add(title)
                return title

    def contacts(self, client: Row) -> None:
        for _ in range(self.rng.randint(1, 3)):
            surname, first, patronymic = self.person()
            self.add("contacts", {
                "client_id": client["id"], "full_name": f"{surname} {first} {patronymic}",
                "position": self.rng.choice(("Директор", "Главный бухгалтер", "Менеджер по закупкам", "Снабженец")),
                "phone": format_phone(self.mobile(), self.rng.choice(PHONE_STYLES)),
                "email": f"{translit(first)}.{translit(surname)}@" + self.rng.choice(("mail.ru", "yandex.ru")),
                "updated_at": client["updated_at"],
            })

    def deal(self, client: Row, stage: str | None = None) -> Row:
        stage = stage or self.rng.choices(STAGES, weights=(2, 3, 2, 2, 4, 1))[0]
        created = self.moment(90)
        deal = self.add("deals", {
            "client_id": client["id"], "manager_id": client["manager_id"], "title": "", "stage": stage,
            "amount": Decimal("0.00"), "shipped_on": None, "onec_ref": None,
            "created_at": created, "updated_at": created + timedelta(hours=self.rng.randint(1, 400)),
        })
        deal["title"] = f"Поставка № {deal['id']} от {created:%d.%m.%Y}"
        deal["amount"] = sum((self.item(deal, line) for line in range(1, self.rng.randint(1, 5) + 1)), Decimal("0.00"))
        if stage in ("shipped", "invoiced", "paid"):
            deal["shipped_on"] = (created + timedelta(days=self.rng.randint(1, 10))).date()
        if stage in ("invoiced", "paid"):
            self.invoice(deal, client, paid=stage == "paid")
        return deal

    def item(self, deal: Row, line: int) -> Decimal:
        sku, name, price_text = self.rng.choice(PRODUCTS)
        metered = name.endswith(", м")  # sold by the metre: fractional quantities
        quantity = Decimal(self.rng.randint(10, 5000)) / 10 if metered else Decimal(self.rng.randint(1, 40))
        price = Decimal(price_text)
        amount = (quantity * price).quantize(Decimal("0.01"))
        self.add("deal_items", {"deal_id": deal["id"], "line_no": line, "sku": sku, "name": name,
                                "quantity": quantity.quantize(Decimal("0.001")), "price": price, "amount": amount})
        return amount

    def invoice(self, deal: Row, client: Row, paid: bool) -> None:
        issued: date = deal["shipped_on"] or deal["created_at"].date()
        paid_at = datetime.combine(issued, datetime.min.time()) + timedelta(days=self.rng.randint(1, 20), hours=11)
        invoice = self.add("invoices", {
            "deal_id": deal["id"], "number": f"СЧ-{issued.year}-{deal['id']:05d}", "issued_on": issued,
            "amount": deal["amount"], "status": "paid" if paid else "issued", "paid_at": paid_at if paid else None,
            "updated_at": paid_at if paid else deal["updated_at"],
        })
        if paid:
            self.add("payments", {
                "external_ref": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "invoice_id": invoice["id"], "client_id": client["id"], "number": str(self.rng.randint(1, 9999)),
                "paid_on": paid_at.date(),
                "amount": deal["amount"], "kind": self.rng.choices(("bank", "cash"), weights=(9, 1))[0],
                "payer_name": client["full_name"], "payer_inn": client["inn"], "created_at": paid_at,
            })

    def cover_every_stage(self) -> None:
        """Tests and the demo rely on at least one deal per stage, however few clients were asked for."""
        present = {deal["stage"] for deal in self.rows["deals"]}
        for stage in STAGES:
            if stage not in present and self.rows["clients"]:
                self.deal(self.rng.choice(self.rows["clients"]), stage)

    def leads(self, count: int) -> None:
        clients = self.rows["clients"]
        for number in range(1, count + 1):
            source = self.rng.choice(("site_callback", "site_order", "landing_promo", "manual"))
            surname, first, _ = self.person()
            created = self.moment(30)
            lead = self.add("leads", {
                "source": source, "source_ref": None if source == "manual" else f"form-{number:06d}",
                "name": f"{first} {surname}", "phone": "+7" + self.mobile(),
                "email": f"{translit(first)}{self.rng.randint(1, 99)}@mail.ru", "comment": "Перезвоните, пожалуйста",
                "utm_source": None if source == "manual" else self.rng.choice(("yandex", "google", "vk")),
                "utm_medium": None if source == "manual" else "cpc", "utm_campaign": None,
                "client_id": self.rng.choice(clients)["id"] if clients and self.rng.random() < 0.3 else None,
                "manager_id": self.rng.randint(1, 5),
                "status": self.rng.choice(("new", "in_work", "converted", "rejected")),
                "created_at": created, "updated_at": created,
            })
            self.add("tasks", {
                "kind": "callback", "source_ref": f"lead:{lead['id']}", "title": f"Перезвонить: {lead['name']}",
                "manager_id": lead["manager_id"], "client_id": lead["client_id"], "lead_id": lead["id"],
                "call_id": None, "due_at": created + timedelta(minutes=30),
                "status": "open" if lead["status"] == "new" else "done", "created_at": created, "updated_at": created,
            })

    def calls(self, count: int) -> None:
        clients = self.rows["clients"]
        for number in range(1, count + 1):
            started = self.moment(30)
            client = self.rng.choice(clients) if clients and self.rng.random() < 0.6 else None
            extension = str(self.rng.randint(101, 105))
            outside = "+7" + self.mobile()
            direction = self.rng.choices(("inbound", "outbound"), weights=(3, 2))[0]
            disposition = self.rng.choices(("ANSWERED", "NO ANSWER", "BUSY", "FAILED"), weights=(12, 4, 1, 1))[0]
            billsec = self.rng.randint(5, 900) if disposition == "ANSWERED" else 0
            ring = self.rng.randint(3, 30)
            call = self.add("calls", {
                "call_id": f"{int(started.timestamp())}.{number}", "direction": direction,
                "caller": outside if direction == "inbound" else extension,
                "callee": extension if direction == "inbound" else outside,
                "started_at": started, "answered_at": started + timedelta(seconds=ring) if billsec else None,
                "ended_at": started + timedelta(seconds=ring + billsec), "duration": ring + billsec,
                "billsec": billsec, "disposition": disposition, "queue": "sales" if direction == "inbound" else None,
                "agent": extension, "recording": f"{started:%Y/%m/%d}/{number}.wav" if billsec else None,
                "client_id": client["id"] if client else None, "manager_id": int(extension) - 100,
                "updated_at": started,
            })
            if direction == "inbound" and not billsec:
                self.add("tasks", {
                    "kind": "callback", "source_ref": f"call:{call['call_id']}", "title": "Перезвонить: пропущенный",
                    "manager_id": call["manager_id"], "client_id": call["client_id"], "lead_id": None,
                    "call_id": call["call_id"], "due_at": started + timedelta(minutes=15), "status": "open",
                    "created_at": started, "updated_at": started,
                })

    def call_requests(self, count: int) -> None:
        clients = self.rows["clients"]
        for _ in range(count):
            requested = self.moment(7)
            status = self.rng.choice(("new", "dialing", "done", "failed"))
            manager = self.rng.randint(1, 5)
            client = self.rng.choice(clients) if clients else None
            self.add("call_requests", {
                "phone": client["phone"] if client else "+7" + self.mobile(), "extension": str(100 + manager),
                "manager_id": manager, "client_id": client["id"] if client else None, "status": status,
                "outcome": {"done": "answered", "failed": self.rng.choice(("busy", "no_answer"))}.get(status),
                "call_id": None, "requested_at": requested, "updated_at": requested,
            })


if __name__ == "__main__":  # python -m sandbox.crm ddl [dialect]
    import sys

    if sys.argv[1:2] != ["ddl"]:
        sys.exit("usage: python -m sandbox.crm ddl [firebird|postgresql|mysql|sqlite]")
    sys.stdout.write(ddl(*sys.argv[2:3]))
