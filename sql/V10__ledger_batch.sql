-- Group commit for the ledger: a batch of money moves applied in one transaction and one round
-- trip, each with its own outcome. Owned by LedgerVerticle.
--
-- Every balance row the batch touches is locked first, in one global order (user id, currency),
-- so batches of different ledger instances and nodes never deadlock with each other. Then the
-- moves are applied in arrival order, as today's single statements apply one: a debit guarded
-- by the balance (a move that would overdraw is refused alone and changes nothing), the credit
-- (its row made if need be), the transaction, its two entries and its audit row. Idempotency
-- keys are claimed per move: a key already answered replays its first answer (byte for byte:
-- the answer stored is the one given), a key used with another request is refused, a key whose
-- first move was refused stays free (as before: only successes are remembered).
--
-- verdict: ok | replayed | insufficient | key_reused | already_reversed; answer: the transaction
-- as JSON text (the API's shape), for ok and replayed.

-- A timestamp as java.time prints it (ISO-8601 in UTC, the fraction in groups of three digits, none when zero).
CREATE FUNCTION ledger_time(at timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN micros = 0 THEN ''
            WHEN micros % 1000 = 0 THEN '.' || lpad((micros / 1000)::text, 3, '0')
            ELSE '.' || lpad(micros::text, 6, '0') END
    || 'Z'
  FROM (SELECT (extract(microseconds FROM at)::bigint % 1000000)::int AS micros) AS m
$$;

CREATE FUNCTION ledger_apply(kinds text[], types text[], froms bigint[], tos bigint[], amounts bigint[], currencies text[],
                             descriptions text[], reversed bigint[], actors bigint[], request_ids text[],
                             scopes bigint[], keys text[], hashes text[])
RETURNS TABLE (move integer, verdict text, answer text)
LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  debit_before bigint;
  debit_after bigint;
  credit_before bigint;
  credit_after bigint;
  made transactions%ROWTYPE;
  first_hash text;
  first_answer text;
BEGIN
  PERFORM 1 FROM balances b
  WHERE (b.user_id, b.currency) IN (
    SELECT party, cur FROM unnest(froms || tos, currencies || currencies) AS p (party, cur) WHERE party > 0)
  ORDER BY b.user_id, b.currency
  FOR UPDATE;

  FOR i IN 1 .. coalesce(array_length(kinds, 1), 0) LOOP
    move := i;
    answer := NULL;

    IF keys[i] IS NOT NULL THEN
      INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (scopes[i], keys[i], hashes[i]) ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        SELECT k.request_hash, k.response INTO first_hash, first_answer
        FROM idempotency_keys k WHERE k.scope = scopes[i] AND k.key = keys[i];
        IF first_hash <> hashes[i] THEN
          verdict := 'key_reused';
          RETURN NEXT;
          CONTINUE;
        END IF;
        verdict := 'replayed';
        answer := first_answer;
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;

    IF reversed[i] IS NOT NULL AND EXISTS (SELECT 1 FROM transactions t WHERE t.reverses = reversed[i]) THEN
      verdict := 'already_reversed';
    ELSE
      debit_before := NULL;
      debit_after := NULL;
      credit_before := NULL;
      credit_after := NULL;
      IF kinds[i] IN ('debit', 'transfer') THEN
        UPDATE balances b SET amount = b.amount - amounts[i], updated_at = clock_timestamp()
        WHERE b.user_id = froms[i] AND b.currency = currencies[i] AND b.amount >= amounts[i]
        RETURNING b.amount + amounts[i], b.amount INTO debit_before, debit_after;
      END IF;
      IF kinds[i] IN ('debit', 'transfer') AND debit_after IS NULL THEN
        verdict := 'insufficient';
      ELSE
        IF kinds[i] IN ('credit', 'transfer') THEN
          INSERT INTO balances AS b (user_id, currency, amount, updated_at)
          VALUES (tos[i], currencies[i], amounts[i], clock_timestamp())
          ON CONFLICT (user_id, currency) DO UPDATE SET amount = b.amount + EXCLUDED.amount, updated_at = EXCLUDED.updated_at
          RETURNING b.amount - amounts[i], b.amount INTO credit_before, credit_after;
        END IF;
        INSERT INTO transactions (type, currency, amount, from_user, to_user, description, reverses, actor_id, request_id, created_at)
        VALUES (types[i], currencies[i], amounts[i], froms[i], tos[i], descriptions[i], reversed[i], actors[i], request_ids[i],
                clock_timestamp())
        RETURNING * INTO made;
        INSERT INTO entries (transaction_id, account_id, currency, amount, balance_after, created_at)
        VALUES (made.id, froms[i], currencies[i], -amounts[i], debit_after, made.created_at),
               (made.id, tos[i], currencies[i], amounts[i], credit_after, made.created_at);
        INSERT INTO audit_logs (entity_type, entity_id, action, actor_id, details, request_id)
        VALUES ('transaction', made.id::text, types[i], actors[i], jsonb_build_object(
                  'currency', currencies[i], 'amount', amounts[i], 'from_user', froms[i], 'to_user', tos[i],
                  'from_balance', CASE WHEN debit_after IS NULL THEN NULL
                                       ELSE jsonb_build_object('before', debit_before, 'after', debit_after) END,
                  'to_balance', CASE WHEN credit_after IS NULL THEN NULL
                                     ELSE jsonb_build_object('before', credit_before, 'after', credit_after) END),
                request_ids[i]);
        answer := json_build_object('id', made.id, 'type', made.type, 'currency', trim(made.currency), 'amount', made.amount,
                                    'from_user_id', nullif(made.from_user, 0), 'to_user_id', nullif(made.to_user, 0),
                                    'description', made.description, 'reverses', made.reverses,
                                    'created_at', ledger_time(made.created_at))::text;
        verdict := 'ok';
      END IF;
    END IF;

    IF keys[i] IS NOT NULL THEN
      IF verdict = 'ok' THEN
        UPDATE idempotency_keys k SET response = answer WHERE k.scope = scopes[i] AND k.key = keys[i];
      ELSE
        DELETE FROM idempotency_keys k WHERE k.scope = scopes[i] AND k.key = keys[i];
      END IF;
    END IF;
    RETURN NEXT;
  END LOOP;
END;
$$;
