package server_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/goodwill-ledger/goodwill/"

// Groups of imports the rules below refuse.
var (
	transport = []string{"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto",
		"github.com/grpc-ecosystem", "net/http", "buf.build/"}
	sqlDrivers = []string{"database/sql", "github.com/jackc/", "modernc.org/", "github.com/pressly/",
		"github.com/cockroachdb/"}
	apiTypes = []string{module + "gen/"}
)

// importRule: the non-test code of the packages under dir must not import
// anything starting with one of deny. Tests may import more (a ledger test
// opens real stores).
type importRule struct {
	dir  string
	why  string
	deny []string
}

var importRules = []importRule{
	{"server/ledger", "the domain knows no transport, no SQL and no other part of the server",
		concat(transport, sqlDrivers, apiTypes, []string{module + "server/", module + "client"})},
	{"server/auth", "keys and roles are domain rules: no transport, no SQL, no store",
		concat(transport, sqlDrivers, apiTypes, []string{module + "server/store", module + "server/api",
			module + "server/gateway", module + "server/app"})},
	{"server/store", "backends implement ledger.Store and know nothing of the API",
		concat(transport, apiTypes, []string{module + "server/api", module + "server/gateway", module + "server/app"})},
	{"server/store/sqlstore", "the shared SQL layer speaks to a Conn, never to a driver",
		concat(sqlDrivers, []string{module + "server/store/sqlite", module + "server/store/postgres"})},
	{"server/api", "handlers reach data only through ledger.Service",
		concat(sqlDrivers, []string{module + "server/store", module + "server/gateway", module + "server/app", "net/http"})},
	{"server/gateway", "REST goes through the gRPC server, so every interceptor runs for it",
		[]string{module + "server/ledger", module + "server/store", module + "server/api",
			module + "server/auth", module + "server/app"}},
	{"server/notify", "delivery knows wire formats and networks, not the ledger, the store or the API",
		concat(apiTypes, sqlDrivers, []string{module + "server/"})},
	{"client", "the client library stands alone; users import it without the server",
		[]string{module + "server/"}},
	{"server/buildinfo", "build identity is read by the CLI, the gateway and the metrics alike: no transport, no SQL, no other part",
		concat(transport, sqlDrivers, apiTypes, []string{module + "server/", module + "client"})},
	{"server", "nothing imports the commands",
		[]string{module + "server/cmd/"}},
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TestImportRules checks every package's non-test imports against the rules
// of every directory it sits in.
func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, r := range importRules {
		err := filepath.WalkDir(filepath.Join(root, r.dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if name := d.Name(); name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			pkg, err := build.ImportDir(path, 0)
			if _, none := err.(*build.NoGoError); none {
				return nil
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			checked[rel] = true
			for _, imp := range pkg.Imports {
				for _, d := range r.deny {
					if strings.HasPrefix(imp, d) || imp+"/" == d {
						t.Errorf("%s imports %s: %s", rel, imp, r.why)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The rules must see the packages they are about; a renamed directory
	// would otherwise pass every rule by matching nothing.
	for _, want := range []string{"server/ledger", "server/auth", "server/api", "server/gateway",
		"server/store/sqlite", "server/store/postgres", "server/store/sqlstore", "client", "server/app",
		"server/buildinfo"} {
		if !checked[want] {
			t.Errorf("no rule checked %s", want)
		}
	}
}
