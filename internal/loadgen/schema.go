package loadgen

// Role is the demo's application role (once per cluster), for tests on a plain PostgreSQL cluster.
const Role = `CREATE ROLE app_rw LOGIN PASSWORD 'app-rw-demo'`

// Schema creates the part of the twin's demo application (internal/twin's seed) the writer uses —
// shop.customers, shop.orders with its status check, and the seed's grants to app_rw (see Role) —
// for tests that run the writer against a plain PostgreSQL cluster. Run it as a superuser in an
// empty database.
const Schema = `
CREATE SCHEMA shop;
CREATE TABLE shop.customers (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES shop.customers,
	status text NOT NULL CHECK (status IN ('new','paid','shipped','cancelled')), placed_at timestamptz NOT NULL);
INSERT INTO shop.customers (name) SELECT 'Customer ' || g FROM generate_series(1, 10) g;
GRANT USAGE ON SCHEMA shop TO app_rw;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shop TO app_rw;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA shop TO app_rw;
`

// The statements the writer runs, as the application role.
const (
	customerSQL = `SELECT min(id) FROM shop.customers`
	insertSQL   = `INSERT INTO shop.orders (customer_id, status, placed_at) VALUES ($1, 'new', now()) RETURNING id`
	updateSQL   = `UPDATE shop.orders SET status = $2 WHERE id = $1`
	readSQL     = `SELECT id, status FROM shop.orders WHERE id = ANY($1)`
	sequenceSQL = `SELECT last_value, is_called FROM shop.orders_id_seq`
)

// Status is an order's status; the writer only moves an order forward: new → paid → shipped.
type Status int

// The statuses the writer sets, in the order it sets them.
const (
	StatusNew Status = iota
	StatusPaid
	StatusShipped
)

func (s Status) String() string {
	switch s {
	case StatusNew:
		return "new"
	case StatusPaid:
		return "paid"
	case StatusShipped:
		return "shipped"
	}
	return "unknown"
}

// parseStatus reads a status from the table; any other value (cancelled, or one the writer never
// sets) is -1, behind everything.
func parseStatus(s string) Status {
	for _, st := range []Status{StatusNew, StatusPaid, StatusShipped} {
		if st.String() == s {
			return st
		}
	}
	return -1
}
