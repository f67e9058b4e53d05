#!/usr/bin/env bash
# Sign and send one request to the citygov merchant-terminal API (bash + openssl + curl).
#
#   CITYGOV_URL=http://127.0.0.1:8000 TERMINAL_ID=T-001 TERMINAL_SECRET=... \
#     docs/points_terminal_example.sh redeem CARD0001 30 [IDEMPOTENCY_KEY]
#   docs/points_terminal_example.sh balance CARD0001
#
# Commands: redeem CARD AMOUNT [KEY] | hold CARD AMOUNT [KEY] | capture HOLD_ID [AMOUNT] [KEY]
#           void HOLD_ID [KEY] | refund REDEMPTION_ID AMOUNT [KEY] | balance CARD
# Re-running a POST with the same KEY replays the first answer (header Idempotency-Replayed: true);
# without KEY a fresh one is generated. The secret is read from the environment, never an argument.
set -euo pipefail

url=${CITYGOV_URL:-http://127.0.0.1:8000}
terminal=${TERMINAL_ID:?set TERMINAL_ID}
secret=${TERMINAL_SECRET:?set TERMINAL_SECRET}
command=${1:?usage: $0 redeem|hold|capture|void|refund|balance ...}
shift

new_key() { openssl rand -hex 16; }

method=POST body="" key=""
case "$command" in
  redeem | hold)
    card=${1:?card number}; amount=${2:?amount}; key=${3:-$(new_key)}
    path="/api/points/terminal/$([ "$command" = redeem ] && echo redeem || echo holds)/"
    body=$(printf '{"card_number":"%s","amount":%d}' "$card" "$amount") ;;
  capture)
    hold=${1:?hold id}; path="/api/points/terminal/holds/$hold/capture/"
    if [ -n "${2:-}" ]; then body=$(printf '{"amount":%d}' "$2"); else body='{}'; fi
    key=${3:-$(new_key)} ;;
  void)
    path="/api/points/terminal/holds/${1:?hold id}/void/"; body='{}'; key=${2:-$(new_key)} ;;
  refund)
    path="/api/points/terminal/redemptions/${1:?redemption id}/refunds/"
    body=$(printf '{"amount":%d}' "${2:?amount}"); key=${3:-$(new_key)} ;;
  balance)
    method=GET; path="/api/points/terminal/balance/?card_number=${1:?card number}" ;;
  *) echo "unknown command: $command" >&2; exit 2 ;;
esac

timestamp=$(date +%s)
nonce=$(openssl rand -hex 12)
# The body hash is over the exact bytes sent (printf '%s' adds no newline).
body_sha=$(printf '%s' "$body" | openssl dgst -sha256 -hex | sed 's/^.* //')
string_to_sign=$(printf 'v1\n%s\n%s\n%s\n%s\n%s' "$method" "$path" "$timestamp" "$nonce" "$body_sha")
signature=$(printf '%s' "$string_to_sign" | openssl dgst -sha256 -hmac "$secret" -hex | sed 's/^.* //')

headers=(-H "X-Terminal-Id: $terminal" -H "X-Timestamp: $timestamp" -H "X-Nonce: $nonce"
         -H "X-Signature: $signature")
if [ "$method" = POST ]; then
  echo "Idempotency-Key: $key" >&2
  curl -sS -i -X POST "${headers[@]}" -H "Idempotency-Key: $key" -H "Content-Type: application/json" \
    --data-binary "$body" "$url$path"
else
  curl -sS -i "${headers[@]}" "$url$path"
fi
echo
