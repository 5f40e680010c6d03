package pgcluster

import "testing"

func TestConnStrings(t *testing.T) {
	c := &Cluster{SocketDir: "/var/tmp/a b/run", Port: 5433}
	tests := []struct {
		name, got, want string
	}{
		{"socket", c.ConnString("app db", "o'neil"), `host='/var/tmp/a b/run' port=5433 dbname='app db' user='o\'neil'`},
		{"tcp", c.TCPConnString("postgres", `back\slash`), `host=127.0.0.1 port=5433 dbname='postgres' user='back\\slash' sslmode=disable`},
		{"quote empty", QuoteValue(""), `''`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got  %s\nwant %s", tt.got, tt.want)
			}
		})
	}
}
