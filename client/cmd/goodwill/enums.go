package main

import (
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// Enum values are read from the generated descriptors, not listed here, so
// a kind added to the proto is accepted and completed the day gen/ has it.

// enumValues are the names of an enum's values other than UNSPECIFIED,
// without their shared prefix, lower-case: "credit", "reliable_delivery".
func enumValues(d protoreflect.EnumDescriptor, except ...int32) []string {
	zero := string(d.Values().ByNumber(0).Name())
	prefix, _ := strings.CutSuffix(zero, "UNSPECIFIED")
	var out []string
	vals := d.Values()
outer:
	for i := range vals.Len() {
		v := vals.Get(i)
		if v.Number() == 0 {
			continue
		}
		for _, e := range except {
			if int32(v.Number()) == e {
				continue outer
			}
		}
		out = append(out, strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix)))
	}
	return out
}

// parseEnum reads an enum value by name, case-insensitively, with or
// without its prefix ("outage", "OUTAGE", "event_kind_outage"); what names
// the value in errors (such as "event kind").
func parseEnum(d protoreflect.EnumDescriptor, what, s string, except ...int32) (protoreflect.EnumNumber, error) {
	zero := string(d.Values().ByNumber(0).Name())
	prefix, _ := strings.CutSuffix(zero, "UNSPECIFIED")
	name := strings.ToUpper(strings.TrimSpace(s))
	name = strings.ReplaceAll(name, "-", "_")
	if !strings.HasPrefix(name, prefix) {
		name = prefix + name
	}
	v := d.Values().ByName(protoreflect.Name(name))
	ok := v != nil && v.Number() != 0
	for _, e := range except {
		if ok && int32(v.Number()) == e {
			ok = false
		}
	}
	if !ok {
		return 0, usagef("unknown %s %q: one of %s", what, s, strings.Join(enumValues(d, except...), ", "))
	}
	return v.Number(), nil
}

var (
	kindEnum    = goodwillv1.EventKind(0).Descriptor()
	statusEnum  = goodwillv1.BalanceStatus(0).Descriptor()
	orderEnum   = goodwillv1.BalanceOrder(0).Descriptor()
	purposeEnum = goodwillv1.OutreachPurpose(0).Descriptor()
)

// reversalOnly is the kind only ReverseEvent writes: not recordable.
var reversalOnly = int32(goodwillv1.EventKind_EVENT_KIND_REVERSAL)

// parseKind reads an event kind a person may record.
func parseKind(s string) (goodwillv1.EventKind, error) {
	n, err := parseEnum(kindEnum, "event kind", s, reversalOnly)
	return goodwillv1.EventKind(n), err
}

// parseAnyKind reads any event kind, REVERSAL included (a filter).
func parseAnyKind(s string) (goodwillv1.EventKind, error) {
	n, err := parseEnum(kindEnum, "event kind", s)
	return goodwillv1.EventKind(n), err
}

// notificationTypes are the types ListNotifications and webhooks take (the
// proto lists them in its validation rules, not as an enum).
var notificationTypes = []string{"event.recorded", "customer.overdrawn", "customer.recovered", "customer.advocate", "policy.activated"}

// complete returns a completion function offering fixed words.
func complete(words ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp)
}

// completeKinds completes the first argument after the customer: a kind.
func completeArgKind(position int, kinds []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == position {
			return kinds, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}
