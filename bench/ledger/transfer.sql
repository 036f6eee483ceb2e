-- One transfer per transaction, as pgbench runs it (bench/ledger.sh: pgbench -M prepared -f this file):
-- the statements Pulse ran for one transfer before group commit (verticles.ledger.LedgerSql.LOCK_PAIR
-- and TRANSFER of e3520fa), inside one transaction as LedgerVerticle ran them. Variables from the
-- command line (-D): lo, hi (the accounts' user ids, consecutive), currency, type, request_id.
-- Pulse's other work per request (identity lookups, the Redis rate-limit EVAL) is not here: this
-- is the database work of the transfer itself.
\set n :hi - :lo + 1
\set from random(:lo, :hi)
\set to :lo + (:from - :lo + random(1, :n - 1)) % :n
\set amount random(1, 1000)
BEGIN;
SELECT user_id FROM balances WHERE currency = :currency::bpchar AND user_id IN (:from::bigint, :to::bigint) ORDER BY user_id FOR UPDATE
;
WITH debit AS (
  UPDATE balances SET amount = amount - :amount::bigint, updated_at = clock_timestamp()
  WHERE user_id = :from::bigint AND currency = :currency::bpchar AND amount >= :amount::bigint
  RETURNING amount + :amount::bigint AS before, amount AS after
),
  credit AS (
  INSERT INTO balances AS b (user_id, currency, amount, updated_at)
  SELECT :to::bigint, :currency::bpchar, :amount::bigint, clock_timestamp() FROM debit
  ON CONFLICT (user_id, currency) DO UPDATE SET amount = b.amount + EXCLUDED.amount, updated_at = EXCLUDED.updated_at
  RETURNING amount - :amount::bigint AS before, amount AS after
),
  tx AS (
  INSERT INTO transactions (type, currency, amount, from_user, to_user, description, reverses, actor_id, request_id, created_at)
  SELECT :type::text, :currency::bpchar, :amount::bigint, :from::bigint, :to::bigint, NULL::text, NULL::bigint, :from::bigint, :request_id::text, clock_timestamp() FROM credit
  RETURNING id, type, currency, amount, from_user, to_user, description, reverses, created_at
),
  entry AS (
  INSERT INTO entries (transaction_id, account_id, currency, amount, balance_after, created_at)
  SELECT tx.id, :from::bigint, :currency::bpchar, -:amount::bigint, debit.after, tx.created_at FROM tx, debit
  UNION ALL
  SELECT tx.id, :to::bigint, :currency::bpchar, :amount::bigint, credit.after, tx.created_at FROM tx, credit
),
  audit AS (
  INSERT INTO audit_logs (entity_type, entity_id, action, actor_id, details, request_id)
  SELECT 'transaction', tx.id::text, :type::text, :from::bigint, jsonb_build_object(
      'currency', :currency::text, 'amount', :amount::bigint, 'from_user', :from::bigint, 'to_user', :to::bigint,
      'from_balance', jsonb_build_object('before', debit.before, 'after', debit.after),
      'to_balance', jsonb_build_object('before', credit.before, 'after', credit.after)),
    :request_id::text
  FROM tx, debit, credit
)
SELECT tx.*, debit.after AS balance FROM tx, debit, credit
;
COMMIT;
