package ledger

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"time"
)

// rankToken is a position in one ranked list, valid under one policy
// version. Encoded, it is base64url of
// "<list>:<version>:<key as IEEE bits in hex>.<customer id>", exact for any
// float key. The list is 'B' (ListBalances), 'R' or 'A' (the RECOVERY or
// ADVOCACY index), 'r' or 'a' (those lists read in balance order while a
// recompute job runs: their next pages are read that way too).
//
// A ListBalances token also carries the moment its listing values balances
// at, after the version: "B:<version>.<as_of, unix micros>:...". A 'B'
// token without it (issued before as_of existed) values its page now.
type rankToken struct {
	list    byte
	version int64
	at      RankCursor
	asOf    time.Time
}

func encodeRankToken(list byte, version int64, c *RankCursor) string {
	return encodeRankTokenAt(list, version, time.Time{}, c)
}

// encodeRankTokenAt is encodeRankToken with the listing's moment (none
// when zero).
func encodeRankTokenAt(list byte, version int64, asOf time.Time, c *RankCursor) string {
	if c == nil {
		return ""
	}
	v := strconv.FormatInt(version, 10)
	if !asOf.IsZero() {
		v += "." + strconv.FormatInt(asOf.UnixMicro(), 10)
	}
	raw := string(list) + ":" + v + ":" + strconv.FormatUint(math.Float64bits(c.Key), 16) + "." + c.CustomerID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeRankToken reads a token of one of lists; "" is the first page.
func decodeRankToken(tok string, maxID int, lists string) (*rankToken, error) {
	if tok == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, errBadToken
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains(lists, parts[0]) {
		return nil, errBadToken
	}
	v, micros, withAsOf := strings.Cut(parts[1], ".")
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil || version < 1 {
		return nil, errBadToken
	}
	var asOf time.Time
	if withAsOf {
		us, err := strconv.ParseInt(micros, 10, 64)
		if err != nil || parts[0] != "B" || us < minTime.UnixMicro() || us > maxAsOf.UnixMicro() {
			return nil, errBadToken
		}
		asOf = time.UnixMicro(us).UTC()
	}
	bits, id, ok := strings.Cut(parts[2], ".")
	if !ok || checkID("page_token", id, maxID) != nil {
		return nil, errBadToken
	}
	u, err := strconv.ParseUint(bits, 16, 64)
	if key := math.Float64frombits(u); err != nil || !finite(key) || math.Abs(key) > maxRankKey {
		return nil, errBadToken
	}
	return &rankToken{list: parts[0][0], version: version, at: RankCursor{Key: math.Float64frombits(u), CustomerID: id}, asOf: asOf}, nil
}

// errRankChanged answers a page token issued under another policy
// version: installing one re-ranks every customer, so its position means
// nothing any more.
func errRankChanged(token, active int64) error {
	return Invalid("page_token", "was issued under policy version %d, and version %d has re-ranked the list since: "+
		"start again without page_token", token, active)
}

// maxRankKey bounds the ranking keys this server issues (Policy.Rank: about
// rankOffset plus the log of a balance plus the half-lives between the
// epoch and an event, far less than this for any valid policy).
const maxRankKey = 1e7

// maxAsOf bounds the moment a token may carry: the last a protobuf
// Timestamp can hold.
var maxAsOf = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// errBadToken is the answer to a page token this server could not have
// issued: tampered with, from another list, or from another program.
var errBadToken = Invalid("page_token", "is not a token this server issued")
