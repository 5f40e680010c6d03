package pgcluster

import (
	"fmt"
	"strings"
)

// ConnString is a libpq keyword/value connection string to db as user over the Unix socket,
// where every role is trusted. Values are quoted, so append more with QuoteValue.
func (c *Cluster) ConnString(db, user string) string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s",
		QuoteValue(c.SocketDir), c.Port, QuoteValue(db), QuoteValue(user))
}

// TCPConnString is like ConnString but over TCP on 127.0.0.1, where roles need a password:
// append " password=" + QuoteValue(pw). TLS is off (the server has no certificate).
func (c *Cluster) TCPConnString(db, user string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=%s sslmode=disable",
		c.Port, QuoteValue(db), QuoteValue(user))
}

// QuoteValue quotes one value for a libpq keyword/value connection string.
func QuoteValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
