package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func storedPolicy(version int64, body string, created time.Time) ledger.StoredPolicy {
	return ledger.StoredPolicy{Version: version, Body: []byte(body), CreatedAt: created}
}

var (
	policyV1 = storedPolicy(1, `{"weights":{"OUTAGE":-3.5,"CREDIT":1},"half_life_s":7776000,"note":"ü \"q\" \\ \n tab\t"}`, at(-100))
	policyV2 = storedPolicy(2, `{"weights":{"OUTAGE":-4.25},"half_life_s":2592000,"epoch":-86400}`, at(5).Add(3*time.Microsecond))
	policyV3 = storedPolicy(3, `{"weights":{},"note":"`+strings.Repeat("long body ", 2000)+`"}`, at(6))
)

func testPolicyVersions(t *testing.T, s ledger.Store) {
	if p, err := getActivePolicy(t, s, tenantA); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("ActivePolicy on a fresh tenant = %+v, %v; want ErrNotFound", p, err)
	}
	if p, err := getPolicy(t, s, tenantA, 1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("Policy(1) on a fresh tenant = %+v, %v; want ErrNotFound", p, err)
	}

	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV1) })
	wantActive(t, s, tenantA, policyV1)
	wantPolicy(t, s, tenantA, policyV1)

	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV2) })
	wantActive(t, s, tenantA, policyV2)
	wantPolicy(t, s, tenantA, policyV1)
	wantPolicy(t, s, tenantA, policyV2)
	for _, v := range []int64{0, 3, -1} {
		if p, err := getPolicy(t, s, tenantA, v); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Policy(%d) = %+v, %v; want ErrNotFound", v, p, err)
		}
	}

	// The writing transaction reads its own new version, as the Service
	// does when it installs one and starts its recompute job.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutPolicy(ctx, tenantA, policyV3); err != nil {
			return err
		}
		p, err := tx.ActivePolicy(ctx, tenantA)
		if err != nil {
			return fmt.Errorf("ActivePolicy after PutPolicy: %w", err)
		}
		equalPolicy(t, "ActivePolicy in the writing Update", p, policyV3)
		return nil
	})
	wantActive(t, s, tenantA, policyV3)
	for _, p := range []ledger.StoredPolicy{policyV1, policyV2, policyV3} {
		wantPolicy(t, s, tenantA, p)
	}

	// Large versions round trip.
	big := storedPolicy(1<<40+5, `{}`, at(7))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, big) })
	wantActive(t, s, tenantA, big)
	wantPolicy(t, s, tenantA, big)
}

func testPolicyDuplicateVersion(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutPolicy(ctx, tenantA, policyV1); err != nil {
			return err
		}
		return tx.PutPolicy(ctx, tenantA, policyV2)
	})
	wantActive(t, s, tenantA, policyV2)

	for _, tc := range []struct {
		name string
		p    ledger.StoredPolicy
	}{
		{name: "an older version", p: storedPolicy(1, `{"overwritten":true}`, at(50))},
		{name: "the active version", p: storedPolicy(2, `{"overwritten":true}`, at(50))},
	} {
		var putErr error
		err := s.Update(t.Context(), func(tx ledger.Tx) error {
			putErr = tx.PutPolicy(t.Context(), tenantA, tc.p)
			return putErr
		})
		if !errors.Is(putErr, ledger.ErrDuplicate) || !errors.Is(err, ledger.ErrDuplicate) {
			t.Errorf("PutPolicy of %s: PutPolicy error = %v, Update error = %v; want ErrDuplicate", tc.name, putErr, err)
		}
		wantActive(t, s, tenantA, policyV2)
		wantPolicy(t, s, tenantA, policyV1)
		wantPolicy(t, s, tenantA, policyV2)
	}

	// A new version and then its duplicate in one Update: the rollback takes
	// the new version too.
	var putErr error
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		if err := tx.PutPolicy(t.Context(), tenantA, policyV3); err != nil {
			return err
		}
		putErr = tx.PutPolicy(t.Context(), tenantA, storedPolicy(3, `{"again":true}`, at(51)))
		return putErr
	})
	if !errors.Is(putErr, ledger.ErrDuplicate) || !errors.Is(err, ledger.ErrDuplicate) {
		t.Errorf("second PutPolicy of one version in an Update: PutPolicy error = %v, Update error = %v; want ErrDuplicate", putErr, err)
	}
	wantActive(t, s, tenantA, policyV2)
	if p, err := getPolicy(t, s, tenantA, 3); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Policy(3) after the rolled back Update = %+v, %v; want ErrNotFound", p, err)
	}
	// Version 3 is free again.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV3) })
	wantActive(t, s, tenantA, policyV3)
}

func testPolicyTenantIsolation(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutPolicy(ctx, tenantA, policyV1); err != nil {
			return err
		}
		return tx.PutPolicy(ctx, tenantA, policyV2)
	})
	if p, err := getActivePolicy(t, s, tenantB); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("ActivePolicy of tenant B = %+v, %v; want ErrNotFound", p, err)
	}
	for _, v := range []int64{1, 2} {
		if p, err := getPolicy(t, s, tenantB, v); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Policy(%d) of tenant B = %+v, %v; want ErrNotFound", v, p, err)
		}
	}

	// Tenant B's version 1 is not a duplicate of tenant A's.
	b1 := storedPolicy(1, `{"tenant":"b"}`, at(9))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantB, b1) })
	wantActive(t, s, tenantB, b1)
	wantPolicy(t, s, tenantB, b1)
	wantActive(t, s, tenantA, policyV2)
	wantPolicy(t, s, tenantA, policyV1)
	if p, err := getPolicy(t, s, tenantB, 2); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Policy(2) of tenant B = %+v, %v; want ErrNotFound", p, err)
	}

	// Tenant A's next version leaves tenant B's active one alone.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV3) })
	wantActive(t, s, tenantA, policyV3)
	wantActive(t, s, tenantB, b1)
	if p, err := getActivePolicy(t, s, "tenant-c"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("ActivePolicy of an unknown tenant = %+v, %v; want ErrNotFound", p, err)
	}
}
