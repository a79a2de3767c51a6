"""Versioned migrations of the warehouse (DuckLake): schemas `ops` and `recon` (docs/design.md contract).

DuckLake has no primary keys, unique constraints or indexes: each table's key is named in a
comment and kept by its writers, which MERGE on it. A migration must not declare one."""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE SCHEMA IF NOT EXISTS ops;
        CREATE SCHEMA IF NOT EXISTS recon;
        CREATE TABLE ops.runs (
            run_id VARCHAR NOT NULL,  -- key
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
            resolved_at TIMESTAMPTZ
            -- key: flow, key, reason
        );
        CREATE TABLE ops.listing_state (
            sku VARCHAR NOT NULL,  -- key
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
            amazon_order_id VARCHAR NOT NULL,  -- key
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
            updated_at TIMESTAMPTZ NOT NULL
            -- key: flow, name
        );
        CREATE TABLE recon.settlements (
            settlement_id VARCHAR NOT NULL,  -- key
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
            source_file VARCHAR
            -- key: settlement_id, line_no
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
            reconciled_at TIMESTAMPTZ
            -- key: invoice_id, settlement_id
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
            created_at TIMESTAMPTZ NOT NULL
            -- key: flow, kind, key
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE ops.price_guard (
            sku VARCHAR NOT NULL,  -- key
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
            shipping_order_id BIGINT NOT NULL,  -- key
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
            invoice_id BIGINT NOT NULL,  -- key
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
            report_id VARCHAR NOT NULL,  -- key
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
        # Marketplace as a key (#15), and listing state long: one row per marketplace × SKU × attribute,
        # so a new attribute needs no migration. No new primary keys (DuckLake has none): writers
        # update the rows they know and insert the missing ones. Rows from before this migration keep
        # marketplace_id NULL, because SQL cannot know which marketplace the warehouse served; the ops
        # functions claim them for the marketplace of the first call that writes them (docs/design.md).
        """
        CREATE TABLE ops.listing_state_long (
            marketplace_id VARCHAR,
            sku VARCHAR NOT NULL,
            attribute VARCHAR NOT NULL,
            product_type VARCHAR,
            sent VARCHAR,
            accepted VARCHAR,
            feed_id VARCHAR,
            message_id INTEGER,
            verdict VARCHAR,
            issues VARCHAR,
            sent_at TIMESTAMPTZ,
            verdict_at TIMESTAMPTZ
        );
        INSERT INTO ops.listing_state_long
            SELECT NULL, sku, 'quantity', product_type, CAST(quantity_sent AS VARCHAR), CAST(quantity_accepted AS VARCHAR),
                   quantity_feed_id, quantity_message_id, quantity_verdict, quantity_issues, quantity_sent_at, quantity_verdict_at
            FROM ops.listing_state WHERE quantity_sent IS NOT NULL OR quantity_accepted IS NOT NULL OR quantity_verdict IS NOT NULL;
        INSERT INTO ops.listing_state_long
            SELECT NULL, sku, 'price', product_type, CAST(price_sent AS VARCHAR), CAST(price_accepted AS VARCHAR),
                   price_feed_id, price_message_id, price_verdict, price_issues, price_sent_at, price_verdict_at
            FROM ops.listing_state WHERE price_sent IS NOT NULL OR price_accepted IS NOT NULL OR price_verdict IS NOT NULL;
        DROP TABLE ops.listing_state;
        ALTER TABLE ops.listing_state_long RENAME TO listing_state;
        CREATE VIEW ops.listing_state_wide AS
            SELECT marketplace_id, sku, max(product_type) AS product_type,
                   CAST(max(sent) FILTER (attribute = 'quantity') AS INTEGER) AS quantity_sent,
                   CAST(max(accepted) FILTER (attribute = 'quantity') AS INTEGER) AS quantity_accepted,
                   max(feed_id) FILTER (attribute = 'quantity') AS quantity_feed_id,
                   max(message_id) FILTER (attribute = 'quantity') AS quantity_message_id,
                   max(verdict) FILTER (attribute = 'quantity') AS quantity_verdict,
                   max(issues) FILTER (attribute = 'quantity') AS quantity_issues,
                   max(sent_at) FILTER (attribute = 'quantity') AS quantity_sent_at,
                   max(verdict_at) FILTER (attribute = 'quantity') AS quantity_verdict_at,
                   CAST(max(sent) FILTER (attribute = 'price') AS DECIMAL(18,4)) AS price_sent,
                   CAST(max(accepted) FILTER (attribute = 'price') AS DECIMAL(18,4)) AS price_accepted,
                   max(feed_id) FILTER (attribute = 'price') AS price_feed_id,
                   max(message_id) FILTER (attribute = 'price') AS price_message_id,
                   max(verdict) FILTER (attribute = 'price') AS price_verdict,
                   max(issues) FILTER (attribute = 'price') AS price_issues,
                   max(sent_at) FILTER (attribute = 'price') AS price_sent_at,
                   max(verdict_at) FILTER (attribute = 'price') AS price_verdict_at
            FROM ops.listing_state GROUP BY marketplace_id, sku;

        CREATE TABLE ops.price_guard_keyed AS SELECT CAST(NULL AS VARCHAR) AS marketplace_id, * FROM ops.price_guard;
        DROP TABLE ops.price_guard;
        ALTER TABLE ops.price_guard_keyed RENAME TO price_guard;

        CREATE TABLE ops.watermarks_keyed AS SELECT CAST(NULL AS VARCHAR) AS marketplace_id, * FROM ops.watermarks;
        DROP TABLE ops.watermarks;
        ALTER TABLE ops.watermarks_keyed RENAME TO watermarks;

        CREATE TABLE ops.orders_keyed AS SELECT CAST(NULL AS VARCHAR) AS marketplace_id, * FROM ops.orders;
        DROP TABLE ops.orders;
        ALTER TABLE ops.orders_keyed RENAME TO orders;

        ALTER TABLE recon.settlements ADD COLUMN marketplace_id VARCHAR;
        """,
    ),
    (
        6,
        # The price guard records who approved or rejected a held change, and when it was rejected.
        """
        ALTER TABLE ops.price_guard ADD COLUMN decided_by VARCHAR;
        ALTER TABLE ops.price_guard ADD COLUMN rejected_at TIMESTAMPTZ;
        """,
    ),
)
