-- ledger_apply (V14) with plans PostgreSQL makes once per connection instead of at every call; the
-- arguments, answers and rows are the same. Owned by LedgerVerticle.
--
-- Why: a PL/pgSQL function keeps a plan per statement, but for a statement with parameters the plan
-- cache compares a generic plan with plans made for each call's values, and keeps re-planning when
-- those look cheaper. The batch's arrays made them look cheaper every time (the planner sees their
-- real length, one or two moves, against its guess of 100 for a generic plan), so the lock query,
-- the balance update and the reversal check were planned at every call: 234, 108 and 16 µs of a
-- lone move's 1.2 ms inside PostgreSQL (pg_stat_statements with track = all and track_planning,
-- pgbench, one move per call, synchronous_commit off). Forced generic, those two statements as V14
-- wrote them chose a hash join over a sequential scan of balances (370 and 347 µs). So:
--
--  1. The function plans generically (SET plan_cache_mode), once per connection.
--  2. The lock query finds the batch's balance rows by user_id = ANY and currency = ANY through the
--     primary key, a plan that is good for any batch size. It may lock a party's balance in a second
--     currency of the same batch too (user A's EUR row when A moves USD and someone else EUR): more
--     than needed, never less, and still in the one global order (user id, currency).
--  3. The balance update names the changed owners with = ANY, so its generic plan reads balances
--     through the primary key too.
--  4. The reversal check (a query) runs only for a reversal; other moves test one array element.
--
-- Measured on the same database, pgbench, synchronous_commit off, 1,000 funded accounts: one move per
-- call 0.81–0.97 ms against 1.50–1.69 ms with V14 (the statements before group commit, for
-- comparison: 0.80–0.94 ms); 27 transfers per call 6.1–7.1 ms against 8.3.

CREATE OR REPLACE FUNCTION ledger_apply(kinds text[], types text[], froms bigint[], tos bigint[], amounts bigint[], currencies text[],
                                        descriptions text[], reversed bigint[], actors bigint[], request_ids text[],
                                        scopes bigint[], keys text[], hashes text[])
RETURNS TABLE (move integer, verdict text, answer text)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  i integer;
  n integer := coalesce(array_length(kinds, 1), 0);
  transaction_ids regclass := 'transactions_id_seq'::regclass;
  -- The balance rows of the batch: who, in what currency, "user:currency" to find them, the amount now, changed or not.
  owners bigint[];
  owned_in text[];
  accounts text[];
  balance bigint[];
  changed boolean[];
  debit_at integer;
  credit_at integer;
  debit_before bigint;
  debit_after bigint;
  credit_before bigint;
  credit_after bigint;
  first_hash text;
  first_answer text;
  made_id bigint;
  made_at timestamptz;
  reversed_here bigint[] := '{}';
  -- What was applied, one element per applied move.
  t_id bigint[] := '{}';
  t_move integer[] := '{}';
  t_at timestamptz[] := '{}';
  t_debit_after bigint[] := '{}';
  t_credit_after bigint[] := '{}';
  t_details jsonb[] := '{}';
BEGIN
  SELECT coalesce(array_agg(b.user_id ORDER BY b.user_id, b.currency), '{}'),
         coalesce(array_agg(b.currency::text ORDER BY b.user_id, b.currency), '{}'),
         coalesce(array_agg(b.user_id || ':' || b.currency::text ORDER BY b.user_id, b.currency), '{}'),
         coalesce(array_agg(b.amount ORDER BY b.user_id, b.currency), '{}')
  INTO owners, owned_in, accounts, balance
  FROM (SELECT l.user_id, l.currency, l.amount FROM balances l
        WHERE l.user_id = ANY (froms || tos) AND l.currency = ANY (currencies::char(3)[])
        ORDER BY l.user_id, l.currency
        FOR UPDATE OF l) AS b;
  changed := array_fill(false, ARRAY[coalesce(array_length(accounts, 1), 0)]);

  FOR i IN 1 .. n LOOP
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

    verdict := NULL;
    IF reversed[i] IS NOT NULL THEN
      IF reversed[i] = ANY (reversed_here) OR EXISTS (SELECT 1 FROM transactions t WHERE t.reverses = reversed[i]) THEN
        verdict := 'already_reversed';
      END IF;
    END IF;
    IF verdict IS NULL THEN
      debit_before := NULL;
      debit_after := NULL;
      credit_before := NULL;
      credit_after := NULL;
      debit_at := NULL;
      IF kinds[i] IN ('debit', 'transfer') THEN
        debit_at := array_position(accounts, froms[i] || ':' || currencies[i]);
        IF debit_at IS NOT NULL AND balance[debit_at] >= amounts[i] THEN
          debit_before := balance[debit_at];
          debit_after := debit_before - amounts[i];
        END IF;
      END IF;
      IF kinds[i] IN ('debit', 'transfer') AND debit_after IS NULL THEN
        verdict := 'insufficient';
      ELSE
        IF debit_at IS NOT NULL THEN
          balance[debit_at] := debit_after;
          changed[debit_at] := true;
        END IF;
        IF kinds[i] IN ('credit', 'transfer') THEN
          credit_at := array_position(accounts, tos[i] || ':' || currencies[i]);
          IF credit_at IS NULL THEN
            INSERT INTO balances AS b (user_id, currency, amount, updated_at) VALUES (tos[i], currencies[i], 0, clock_timestamp())
            ON CONFLICT (user_id, currency) DO UPDATE SET updated_at = b.updated_at
            RETURNING b.amount INTO credit_before;
            owners := array_append(owners, tos[i]);
            owned_in := array_append(owned_in, currencies[i]);
            accounts := array_append(accounts, tos[i] || ':' || currencies[i]);
            balance := array_append(balance, credit_before);
            changed := array_append(changed, true);
            credit_at := array_length(accounts, 1);
          END IF;
          credit_before := balance[credit_at];
          credit_after := credit_before + amounts[i];
          balance[credit_at] := credit_after;
          changed[credit_at] := true;
        END IF;
        made_id := nextval(transaction_ids);
        made_at := clock_timestamp();
        IF reversed[i] IS NOT NULL THEN
          reversed_here := array_append(reversed_here, reversed[i]);
        END IF;
        t_id := array_append(t_id, made_id);
        t_move := array_append(t_move, i);
        t_at := array_append(t_at, made_at);
        t_debit_after := array_append(t_debit_after, debit_after);
        t_credit_after := array_append(t_credit_after, credit_after);
        t_details := array_append(t_details, jsonb_build_object(
          'currency', currencies[i], 'amount', amounts[i], 'from_user', froms[i], 'to_user', tos[i],
          'from_balance', CASE WHEN debit_after IS NULL THEN NULL
                               ELSE jsonb_build_object('before', debit_before, 'after', debit_after) END,
          'to_balance', CASE WHEN credit_after IS NULL THEN NULL
                             ELSE jsonb_build_object('before', credit_before, 'after', credit_after) END));
        answer := json_build_object('id', made_id, 'type', types[i], 'currency', currencies[i]::char(3)::text, 'amount', amounts[i],
                                    'from_user_id', nullif(froms[i], 0), 'to_user_id', nullif(tos[i], 0),
                                    'description', descriptions[i], 'reverses', reversed[i],
                                    'created_at', ledger_time(made_at))::text;
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

  IF array_length(t_id, 1) IS NULL THEN
    RETURN;
  END IF;

  INSERT INTO transactions (id, type, currency, amount, from_user, to_user, description, reverses, actor_id, request_id, created_at)
  OVERRIDING SYSTEM VALUE
  SELECT a.id, types[a.m], currencies[a.m], amounts[a.m], froms[a.m], tos[a.m], descriptions[a.m], reversed[a.m], actors[a.m],
         request_ids[a.m], a.made
  FROM unnest(t_id, t_move, t_at) AS a (id, m, made);

  INSERT INTO entries (transaction_id, account_id, currency, amount, balance_after, created_at)
  SELECT a.id, e.account, currencies[a.m], e.amount, e.balance_after, a.made
  FROM unnest(t_id, t_move, t_at, t_debit_after, t_credit_after) WITH ORDINALITY AS a (id, m, made, da, ca, ord)
  CROSS JOIN LATERAL (VALUES (1, froms[a.m], -amounts[a.m], a.da),
                             (2, tos[a.m], amounts[a.m], a.ca)) AS e (side, account, amount, balance_after)
  ORDER BY a.ord, e.side;

  INSERT INTO audit_logs (entity_type, entity_id, action, actor_id, details, request_id)
  SELECT 'transaction', a.id::text, types[a.m], actors[a.m], a.details, request_ids[a.m]
  FROM unnest(t_id, t_move, t_details) WITH ORDINALITY AS a (id, m, details, ord)
  ORDER BY a.ord;

  UPDATE balances b SET amount = c.amount, updated_at = clock_timestamp()
  FROM unnest(owners, owned_in, balance, changed) AS c (user_id, currency, amount, changed)
  WHERE b.user_id = ANY (owners) AND c.changed AND b.user_id = c.user_id AND b.currency = c.currency::char(3);
END;
$$;
