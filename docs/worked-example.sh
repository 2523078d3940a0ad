#!/usr/bin/env bash
# The README's worked example: a customer loses goodwill in an outage, gets a
# credit and a response, and climbs back out of the outreach list; then two
# customers live through the same price rise, one told a month ahead and one
# not, and a promise is broken.
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

echo "# 6. A 10% price rise, 10 days ago: Eli was told a month before, Fay was not"
for who in eli fay; do
  for i in $(seq 70 -3 13); do record $who EVENT_KIND_RELIABLE_DELIVERY 1 "-$i days" "del-$i" >/dev/null; done
done
record eli EVENT_KIND_PROACTIVE_NOTICE 1 "-39 days" notice-1 >/dev/null
for who in eli fay; do
  record $who EVENT_KIND_SERVICE_CHANGE 10 "-10 days" rise-1 | jq -c --arg who $who '{who: $who, balance: .balance.balance, status: .balance.status}'
done
curl -sf "$B/v1/customers/eli/balance:explain?top=1" | jq -c '[.topEvents[].explanation]'
curl -sf "$B/v1/customers/fay/balance:explain?top=1" | jq -c '[.topEvents[].explanation]'

echo "# 7. The feature the new price promised does not come: a broken promise to Fay"
record fay EVENT_KIND_BROKEN_PROMISE 1 "-2 days" promise-1 | jq -c '.balance | {balance, status}'
recovery
