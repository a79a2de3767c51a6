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
    (
        4,
        # recon.settlement_lines and recon.invoices were never written before the settlement flow;
        # they are recreated in the shape it needs (every report column, in Parquet; one row per invoice).
        """
        DROP TABLE recon.settlement_lines;
        DROP TABLE recon.invoices;
        ALTER TABLE recon.settlements ADD COLUMN line_count INTEGER;
        ALTER TABLE recon.settlements ADD COLUMN bad_rows INTEGER;
        -- Settlement lines live in Parquet beside the database (a 1M-line settlement would make every
        -- publish copy them), and this empty view gives them their shape until the first settlement lands.
        CREATE VIEW recon.settlement_lines AS SELECT
            NULL::VARCHAR AS settlement_id, NULL::INTEGER AS line_no, NULL::VARCHAR AS transaction_type,
            NULL::VARCHAR AS order_id, NULL::VARCHAR AS merchant_order_id, NULL::VARCHAR AS adjustment_id,
            NULL::VARCHAR AS shipment_id, NULL::VARCHAR AS marketplace_name, NULL::VARCHAR AS amount_type,
            NULL::VARCHAR AS amount_description, NULL::DECIMAL(18,4) AS amount, NULL::VARCHAR AS fulfillment_id,
            NULL::TIMESTAMPTZ AS posted_at, NULL::VARCHAR AS order_item_code, NULL::VARCHAR AS merchant_order_item_id,
            NULL::VARCHAR AS merchant_adjustment_item_id, NULL::VARCHAR AS sku, NULL::INTEGER AS quantity,
            NULL::VARCHAR AS promotion_id, NULL::VARCHAR AS extra, NULL::VARCHAR AS role, NULL::VARCHAR AS source_file
            WHERE false;
        CREATE TABLE recon.invoices (
            invoice_id BIGINT PRIMARY KEY,
            invoice_no VARCHAR,
            order_id VARCHAR,
            sales_order_id BIGINT,
            invoice_date DATE,
            due_date DATE,
            currency VARCHAR,
            expected DECIMAL(18,4),
            settled DECIMAL(18,4),
            fees DECIMAL(18,4),
            difference DECIMAL(18,4),
            payment_status VARCHAR NOT NULL,
            paid_at TIMESTAMPTZ,
            reason VARCHAR,
            last_settlement_id VARCHAR,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE ops.settlement_reports (
            report_id VARCHAR PRIMARY KEY,
            created_time TIMESTAMPTZ,
            settlement_ids VARCHAR,
            outcome VARCHAR NOT NULL,
            recorded_at TIMESTAMPTZ NOT NULL
        );
        CREATE VIEW recon.open_receivables AS
            SELECT invoice_no, order_id, invoice_date, due_date, currency, expected, coalesce(settled, 0) AS settled,
                   expected - coalesce(settled, 0) AS outstanding, payment_status,
                   greatest(current_date - due_date, 0) AS days_overdue, reason
            FROM recon.invoices WHERE payment_status <> 'paid';
        CREATE VIEW recon.fees_by_type AS
            SELECT settlement_id, transaction_type, amount_type, amount_description, count(*) AS lines, sum(amount) AS amount
            FROM recon.settlement_lines WHERE role <> 'buyer_paid'
            GROUP BY ALL;
        CREATE VIEW recon.order_fees AS
            SELECT settlement_id, order_id, amount_type, amount_description, sum(amount) AS amount
            FROM recon.settlement_lines WHERE role = 'fee'
            GROUP BY ALL;
        CREATE VIEW recon.settlement_summary AS
            WITH line_money AS (
                SELECT settlement_id,
                       sum(amount) FILTER (role = 'buyer_paid') AS buyer_paid,
                       sum(amount) FILTER (role = 'fee') AS order_fees,
                       sum(amount) FILTER (role = 'account') AS account_fees,
                       sum(amount) FILTER (role NOT IN ('buyer_paid', 'fee', 'account')) AS refunds_and_other,
                       count(DISTINCT order_id) FILTER (role = 'buyer_paid') AS orders
                FROM recon.settlement_lines GROUP BY 1),
            invoice_counts AS (
                SELECT last_settlement_id AS settlement_id, count(*) FILTER (payment_status = 'paid') AS invoices_paid,
                       count(*) FILTER (payment_status = 'disputed') AS invoices_disputed
                FROM recon.invoices GROUP BY 1),
            exception_counts AS (SELECT settlement_id, count(*) AS exceptions FROM recon.exceptions GROUP BY 1)
            SELECT s.settlement_id, s.period_start, s.period_end, s.deposit_date, s.currency, s.reported_total, s.computed_total,
                   s.balanced, s.line_count, s.bad_rows, m.orders, m.buyer_paid, m.order_fees, m.account_fees, m.refunds_and_other,
                   coalesce(i.invoices_paid, 0) AS invoices_paid, coalesce(i.invoices_disputed, 0) AS invoices_disputed,
                   coalesce(e.exceptions, 0) AS exceptions, s.source_file, s.applied_at
            FROM recon.settlements s LEFT JOIN line_money m USING (settlement_id) LEFT JOIN invoice_counts i USING (settlement_id)
            LEFT JOIN exception_counts e USING (settlement_id);
        """,
    ),
    (
        5,
        # The price guard records who approved or rejected a held change, and when it was rejected.
        """
        ALTER TABLE ops.price_guard ADD COLUMN decided_by VARCHAR;
        ALTER TABLE ops.price_guard ADD COLUMN rejected_at TIMESTAMPTZ;
        """,
    ),
)
