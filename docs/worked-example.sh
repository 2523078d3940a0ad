#!/usr/bin/env bash
# The README's worked example: a customer loses goodwill in an outage, gets a
# credit and a response, and climbs back out of the outreach list.
# Run it against a fresh `make run` (it needs curl and jq), from the
# repository root: it sends the admin key `make run` wrote to data/admin.key.
set -euo pipefail
B=${GOODWILL_HTTP:-localhost:8080}
KEY=${GOODWILL_KEY:-$(cat data/admin.key)}
curl() { command curl -H "Authorization: Bearer $KEY" "$@"; }
d() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
record() { # customer kind magnitude when key
  curl -sf -XPOST "$B/v1/customers/$1/events" \
    -d "{\"kind\":\"$2\",\"magnitude\":$3,\"occurredAt\":\"$(d "$4")\",\"idempotencyKey\":\"$5\"}"
}
recovery() { curl -sf "$B/v1/outreach?purpose=OUTREACH_PURPOSE_RECOVERY" | jq -c '[.entries[] | {customerId, priority, reasons}]'; }

curl -sf -XPUT "$B/v1/customers/dana" -d '{"displayName":"Dana","segment":"family","value":2}' >/dev/null

echo "# 1. Twenty reliable deliveries over two months"
for i in $(seq 60 -3 3); do record dana EVENT_KIND_RELIABLE_DELIVERY 1 "-$((i + 20)) days" "del-$i" >/dev/null; done
curl -sf "$B/v1/customers/dana/balance?asOf=$(d '-20 days')" | jq -c '.balance | {balance, status}'

echo "# 2. A three-hour outage, 20 days ago, without warning"
record dana EVENT_KIND_OUTAGE 3 "-20 days" out-1 | jq -c '.balance | {balance, status}'
recovery

echo "# 3. The next day: a bill credit of 5 and a personal response"
record dana EVENT_KIND_CREDIT 5 "-19 days" credit-1 | jq -c '.balance | {balance, status}'
record dana EVENT_KIND_RESPONSE 1 "-19 days" resp-1 | jq -c '.balance | {balance, status}'
recovery

echo "# 4. Two weeks of reliable service, then Dana's suggestion is adopted"
for i in $(seq 16 -1 3); do record dana EVENT_KIND_RELIABLE_DELIVERY 1 "-$i days" "del2-$i" >/dev/null; done
record dana EVENT_KIND_SUGGESTION_ADOPTED 1 "-2 days" sugg-1 | jq -c '.balance | {balance, status}'
recovery

echo "# 5. Why the balance is what it is"
curl -sf "$B/v1/customers/dana/balance:explain?top=3" | jq '{summary, top: [.topEvents[].explanation]}'
