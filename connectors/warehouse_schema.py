"""Versioned migrations of the DuckDB warehouse: schemas `ops` and `recon` (DESIGN.md contract)."""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE SCHEMA IF NOT EXISTS ops;
        CREATE SCHEMA IF NOT EXISTS recon;
        CREATE TABLE ops.runs (
            run_id VARCHAR PRIMARY KEY,
            flow VARCHAR NOT NULL,
            prefect_run_id VARCHAR,
            started TIMESTAMPTZ NOT NULL,
            finished TIMESTAMPTZ,
            count_in BIGINT,
            count_out BIGINT,
            outcome VARCHAR,
            message VARCHAR
        );
        CREATE TABLE ops.quarantine (
            flow VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            raw_value VARCHAR,
            reason VARCHAR NOT NULL,
            first_seen TIMESTAMPTZ NOT NULL,
            last_seen TIMESTAMPTZ NOT NULL,
            resolved_at TIMESTAMPTZ,
            PRIMARY KEY (flow, key, reason)
        );
        CREATE TABLE ops.listing_state (
            sku VARCHAR PRIMARY KEY,
            product_type VARCHAR,
            quantity_sent INTEGER,
            quantity_accepted INTEGER,
            quantity_feed_id VARCHAR,
            quantity_message_id INTEGER,
            quantity_verdict VARCHAR,
            quantity_issues VARCHAR,
            quantity_sent_at TIMESTAMPTZ,
            quantity_verdict_at TIMESTAMPTZ,
            price_sent DECIMAL(18,4),
            price_accepted DECIMAL(18,4),
            price_feed_id VARCHAR,
            price_message_id INTEGER,
            price_verdict VARCHAR,
            price_issues VARCHAR,
            price_sent_at TIMESTAMPTZ,
            price_verdict_at TIMESTAMPTZ
        );
        CREATE TABLE ops.orders (
            amazon_order_id VARCHAR PRIMARY KEY,
            sales_order_id BIGINT,
            customer_id BIGINT,
            match_rule VARCHAR,
            amazon_status VARCHAR,
            fulfilled_by VARCHAR,
            last_updated TIMESTAMPTZ,
            imported_at TIMESTAMPTZ,
            import_state VARCHAR,
            reason VARCHAR
        );
        CREATE TABLE ops.watermarks (
            flow VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (flow, name)
        );
        CREATE TABLE recon.settlements (
            settlement_id VARCHAR PRIMARY KEY,
            period_start TIMESTAMPTZ,
            period_end TIMESTAMPTZ,
            deposit_date TIMESTAMPTZ,
            currency VARCHAR,
            reported_total DECIMAL(18,4),
            computed_total DECIMAL(18,4),
            balanced BOOLEAN,
            report_id VARCHAR,
            source_file VARCHAR,
            applied_at TIMESTAMPTZ
        );
        CREATE TABLE recon.settlement_lines (
            settlement_id VARCHAR NOT NULL,
            line_no INTEGER NOT NULL,
            transaction_type VARCHAR,
            order_id VARCHAR,
            amount_type VARCHAR,
            amount_description VARCHAR,
            amount DECIMAL(18,4),
            posted_at TIMESTAMPTZ,
            sku VARCHAR,
            quantity INTEGER,
            source_file VARCHAR,
            PRIMARY KEY (settlement_id, line_no)
        );
        CREATE TABLE recon.invoices (
            invoice_id BIGINT NOT NULL,
            settlement_id VARCHAR NOT NULL,
            invoice_no VARCHAR,
            order_id VARCHAR,
            expected DECIMAL(18,4),
            settled DECIMAL(18,4),
            fees DECIMAL(18,4),
            difference DECIMAL(18,4),
            payment_status VARCHAR,
            reason VARCHAR,
            reconciled_at TIMESTAMPTZ,
            PRIMARY KEY (invoice_id, settlement_id)
        );
        CREATE TABLE recon.exceptions (
            flow VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            settlement_id VARCHAR,
            order_id VARCHAR,
            amount DECIMAL(18,4),
            reason VARCHAR NOT NULL,
            raw VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (flow, kind, key)
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE ops.price_guard (
            sku VARCHAR PRIMARY KEY,
            price DECIMAL(18,4) NOT NULL,
            previous DECIMAL(18,4),
            change_percent DOUBLE,
            status VARCHAR NOT NULL,
            held_at TIMESTAMPTZ NOT NULL,
            approved_at TIMESTAMPTZ,
            released_at TIMESTAMPTZ
        );
        """,
    ),
    (
        3,
        """
        CREATE TABLE ops.shipments (
            shipping_order_id BIGINT PRIMARY KEY,
            amazon_order_id VARCHAR,
            package_reference_id VARCHAR,
            fingerprint VARCHAR,
            outcome VARCHAR,
            message VARCHAR,
            sent_at TIMESTAMPTZ,
            confirmed_at TIMESTAMPTZ
        );
        """,
    ),
)
