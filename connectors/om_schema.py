"""The OM contract tables (docs/design.md), declared once and rendered for SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    ID = "id"  # surrogate key, assigned by the database when not given
    INT = "int"
    TEXT = "text"
    MONEY = "money"  # exact: NUMERIC(18,4) in PostgreSQL, TEXT in SQLite
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def identity(self) -> str | None:
        """The surrogate key column the database numbers itself, if any."""
        if len(self.primary_key) == 1:
            col = self.column(self.primary_key[0])
            if col.kind is Kind.ID:
                return col.name
        return None

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse 'name:kind[!]' words; '!' marks NOT NULL."""
    out = []
    for word in spec.split():
        name, kind = word.split(":")
        required = kind.endswith("!")
        out.append(Column(name, Kind(kind.rstrip("!")), nullable=not required))
    return tuple(out)


TABLES: tuple[Table, ...] = (
    Table("site", _cols("site_id:id! code:text! name:text"), ("site_id",), unique=(("code",),)),
    Table(
        "item",
        _cols("item_id:id! item_code:text! description:text backorderable:bool! active:bool!"),
        ("item_id",),
        unique=(("item_code",),),
    ),
    Table("item_attribute", _cols("item_id:int! name:text! value:text tag:text"), ("item_id", "name")),
    Table("inventory", _cols("item_id:int! site_id:int! on_hand:int!"), ("item_id", "site_id")),
    Table(
        "inventory_hold",
        _cols("hold_id:id! item_id:int! site_id:int! qty:int! sales_order_line_id:int reason:text"),
        ("hold_id",),
        indexes=(("item_id",), ("sales_order_line_id",)),
    ),
    Table(
        "customer",
        _cols(
            "customer_id:id! customer_no:text! name:text email:text phone:text address1:text address2:text "
            "city:text region:text postal_code:text country:text source:text created_at:timestamp!"
        ),
        ("customer_id",),
        unique=(("customer_no",),),
        indexes=(("email",), ("postal_code", "country")),
    ),
    Table("terms", _cols("terms_code:text! description:text net_days:int! tolerance:money!"), ("terms_code",)),
    Table(
        "sales_order",
        _cols(
            "sales_order_id:id! order_no:text! channel:text! external_order_id:text marketplace_id:text "
            "customer_id:int! order_date:timestamp! status:text! fulfilled_by:text currency:text "
            "subtotal:money shipping:money tax:money discount:money total:money terms_code:text "
            "ship_to_name:text ship_to_address1:text ship_to_address2:text ship_to_city:text "
            "ship_to_region:text ship_to_postal_code:text ship_to_country:text"
        ),
        ("sales_order_id",),
        unique=(("order_no",), ("channel", "external_order_id")),
        indexes=(("customer_id",),),
    ),
    Table(
        "sales_order_line",
        _cols(
            "line_id:id! sales_order_id:int! line_no:int! item_id:int! external_line_id:text "
            "qty_ordered:int! qty_shipped:int! unit_price:money line_total:money tax:money "
            "shipping:money discount:money"
        ),
        ("line_id",),
        unique=(("sales_order_id", "line_no"),),
    ),
    Table(
        "shipping_order",
        _cols(
            "shipping_order_id:id! sales_order_id:int! site_id:int status:text! carrier:text service:text "
            "tracking_no:text ship_date:timestamp confirmed_at:timestamp confirmation_error:text"
        ),
        ("shipping_order_id",),
        indexes=(("sales_order_id",), ("status",)),
    ),
    Table("shipping_order_line", _cols("shipping_order_id:int! line_id:int! qty:int!"), ("shipping_order_id", "line_id")),
    Table(
        "invoice",
        _cols(
            "invoice_id:id! invoice_no:text! sales_order_id:int! customer_id:int! invoice_date:date! "
            "due_date:date terms_code:text currency:text amount:money! status:text! payment_status:text! "
            "paid_amount:money paid_at:timestamp"
        ),
        ("invoice_id",),
        unique=(("invoice_no",),),
        indexes=(("sales_order_id",),),
    ),
    Table(
        "invoice_payment",
        _cols("invoice_id:int! settlement_id:text! amount:money! deposit_date:date"),
        ("invoice_id", "settlement_id"),
    ),
)

TABLE_BY_NAME = {t.name: t for t in TABLES}

_SQL_TYPES = {
    "postgres": {
        Kind.ID: "BIGINT GENERATED BY DEFAULT AS IDENTITY",
        Kind.INT: "BIGINT",
        Kind.TEXT: "TEXT",
        Kind.MONEY: "NUMERIC(18,4)",
        Kind.BOOL: "BOOLEAN",
        Kind.DATE: "DATE",
        Kind.TIMESTAMP: "TIMESTAMPTZ",
    },
    # SQLite would turn NUMERIC money into floats, so money is TEXT; dates are ISO-8601 TEXT.
    "sqlite": {
        Kind.ID: "INTEGER",
        Kind.INT: "INTEGER",
        Kind.TEXT: "TEXT",
        Kind.MONEY: "TEXT",
        Kind.BOOL: "INTEGER",
        Kind.DATE: "TEXT",
        Kind.TIMESTAMP: "TEXT",
    },
}

# What every reader sees, whatever the dialect: DuckDB types.
DUCK_TYPES = {
    Kind.ID: "BIGINT",
    Kind.INT: "BIGINT",
    Kind.TEXT: "VARCHAR",
    Kind.MONEY: "DECIMAL(18,4)",
    Kind.BOOL: "BOOLEAN",
    Kind.DATE: "DATE",
    Kind.TIMESTAMP: "TIMESTAMPTZ",
}


def render_ddl(dialect: str) -> list[str]:
    """CREATE TABLE / INDEX statements for the whole contract, idempotent (IF NOT EXISTS)."""
    types = _SQL_TYPES[dialect]
    statements = []
    for table in TABLES:
        lines = []
        for col in table.columns:
            sql_type = types[col.kind]
            if dialect == "sqlite" and col.name == table.identity:
                lines.append(f"{col.name} INTEGER PRIMARY KEY")
                continue
            null = "" if col.nullable else " NOT NULL"
            lines.append(f"{col.name} {sql_type}{null}")
        if not (dialect == "sqlite" and table.identity):
            lines.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        lines += [f"UNIQUE ({', '.join(u)})" for u in table.unique]
        statements.append(f"CREATE TABLE IF NOT EXISTS {table.name} (\n  " + ",\n  ".join(lines) + "\n)")
        for cols in table.indexes:
            index = f"{table.name}_{'_'.join(cols)}_idx"
            statements.append(f"CREATE INDEX IF NOT EXISTS {index} ON {table.name} ({', '.join(cols)})")
    return statements
