#!/usr/bin/env bash
# Cross-check: ghz (gRPC) then wrk (REST) against one fresh goodwilld, server CPU from /proc.
# On SQLite by default; DB=postgres://... for an empty PostgreSQL database of your own (empty it
# again before each run: the admin key is bootstrapped only into an empty database).
# Run from the repository root after `make build`; needs ghz
# (go install github.com/bojand/ghz/cmd/ghz@v0.121.0) and wrk (apt-get install wrk).
set -u
mkdir -p /tmp/wrkdb && rm -f /tmp/wrkdb/g.db* /tmp/wrkdb/admin3.key
bin/goodwilld serve --db "${DB:-sqlite:/tmp/wrkdb/g.db}" --grpc-addr 127.0.0.1:15071 --http-addr 127.0.0.1:18081 \
  --bootstrap-key-file /tmp/wrkdb/admin3.key --rate-limit 0 --log-level warn > /tmp/wrkdb/log 2>&1 &
PID=$!
sleep 2
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
TOKEN=$(cat /tmp/wrkdb/admin3.key)
ghzrun() { ghz --insecure -c 64 --connections 4 --call goodwill.v1.GoodwillService/RecordEvent \
  --metadata "{\"authorization\":\"Bearer $TOKEN\"}" -z "$1" \
  -d "{\"customer_id\":\"u{{randomInt 0 10000}}\",\"event\":{\"kind\":\"EVENT_KIND_RELIABLE_DELIVERY\",\"idempotency_key\":\"$2-{{.RequestNumber}}\"}}" \
  127.0.0.1:15071; }
ghzrun 3s warm > /dev/null 2>&1
c0=$(cpu); ghzrun 10s ghz > /tmp/wrkdb/ghz.txt 2>&1; c1=$(cpu)
grep -E "Requests/sec|50 % in|99 % in|\[OK\]" /tmp/wrkdb/ghz.txt
ok=$(grep -oE "\[OK\] +[0-9]+" /tmp/wrkdb/ghz.txt | grep -oE "[0-9]+$")
echo "gRPC (ghz): server CPU $(( (c1-c0)*10000/ok )) us/event"
export GOODWILL_TOKEN=$TOKEN
wrk -t2 -c64 -d3s -s docs/bench/wrk-post.lua http://127.0.0.1:18081 > /dev/null 2>&1
c0=$(cpu); wrk -t2 -c64 -d10s --latency -s docs/bench/wrk-post.lua http://127.0.0.1:18081 > /tmp/wrkdb/out2.txt 2>&1; c1=$(cpu)
reqs=$(grep "requests in" /tmp/wrkdb/out2.txt | awk '{print $1}')
grep -E "Requests/sec|50%|99%|status" /tmp/wrkdb/out2.txt | head -5
echo "REST (wrk): server CPU $(( (c1-c0)*10000/reqs )) us/event"
kill $PID
