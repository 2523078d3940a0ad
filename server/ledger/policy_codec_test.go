package ledger_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A version survives storage exactly.
func TestPolicyCodecRoundTrip(t *testing.T) {
	t.Parallel()
	p := ledger.DefaultPolicy()
	p.Version = 4
	p.Weights[ledger.KindOutage] = -20
	p.ChangeNotice = ledger.NoticeEffect{Window: 12 * 24 * time.Hour, Factor: 0.25}
	p.DustThreshold = 0.1
	got, err := ledger.DecodePolicy(ledger.StoredPolicy{Version: 4, Body: ledger.EncodePolicy(p), CreatedAt: p.CreatedAt})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, p)
	}
}

// A version stored before a field or a kind existed reads back with the
// built-in value for it: the dust threshold, the change notice, and the
// weight of every kind a policy may leave out.
func TestOldStoredPolicyTakesTheNewDefaults(t *testing.T) {
	t.Parallel()
	old := `{"weights":{"credit":2,"reliable_delivery":1,"outage":-12,"response":5,"proactive_notice":1,
		"complaint":-8,"suggestion_adopted":10,"engagement":2},"half_life_seconds":7776000,"epoch_unix":1735689600,
		"relationship_kinds":["credit","response"],"relationship_scale":50,"relationship_hollow_below":0,
		"relationship_min_factor":0.25,"relationship_max_factor":2,"notice_window_seconds":259200,"notice_factor":0.5,
		"default_overdraft_limit":0,"trend_half_life_seconds":2592000}`
	got, err := ledger.DecodePolicy(ledger.StoredPolicy{Version: 2, Body: []byte(old), CreatedAt: ledger.BuiltinPolicyDate})
	if err != nil {
		t.Fatal(err)
	}
	want := ledger.DefaultPolicy()
	want.Version = 2
	if !reflect.DeepEqual(got, want) {
		t.Errorf("an old version decoded as\n%+v\nwant the built-in values for what it lacks\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the old version does not validate: %v", err)
	}
}
