"""PostgreSQL: one function appends an entry (lock, head read, hash, insert) in one round trip.

``studentvault_audit_append`` takes the append lock (``pg_advisory_xact_lock``), then reads the
head in its own statement (a VOLATILE plpgsql function takes a fresh snapshot per statement
under READ COMMITTED, so the head includes every entry committed before the lock was granted),
computes the entry's SHA-256 from the canonical bytes the caller sends with ``seq`` and
``prev_hash`` spliced in, and inserts the entry, its student index rows and the read window
(docs/adr/0065). The writer recomputes the hash in Python and refuses a mismatch, so this SQL
can never make the chain disagree with ``chain.entry_hash``. SQLite is untouched (the writer
uses the ORM there). The SQL is written here, frozen, not imported.
"""

from django.db import migrations

APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION studentvault_audit_append(
    p_lock_key bigint, p_genesis text, p_hash_head bytea, p_hash_tail bytea,
    p_occurred_at timestamptz, p_actor_kind text, p_actor_id text, p_actor_username text,
    p_actor_role text, p_action text, p_outcome text, p_student_ids text, p_categories text,
    p_purpose text, p_target text, p_details text, p_client_ip text, p_user_agent text,
    p_device text, p_device_id text, p_site text, p_students bigint[], p_reads bigint[],
    OUT new_seq bigint, OUT new_prev_hash text, OUT new_entry_hash text
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_key);
    SELECT e.seq + 1, e.entry_hash INTO new_seq, new_prev_hash
        FROM audit_auditentry AS e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        new_seq := 1;
        new_prev_hash := p_genesis;
    END IF;
    new_entry_hash := encode(sha256(
        p_hash_head
        || convert_to(new_seq::text || ',"' || new_prev_hash || '",', 'UTF8')
        || p_hash_tail), 'hex');
    INSERT INTO audit_auditentry (
        seq, prev_hash, occurred_at, actor_kind, actor_id, actor_username, actor_role, action,
        outcome, student_ids, categories, purpose, target, details, client_ip, user_agent,
        device, device_id, site, entry_hash
    ) VALUES (
        new_seq, new_prev_hash, p_occurred_at, p_actor_kind, p_actor_id, p_actor_username,
        p_actor_role, p_action, p_outcome, p_student_ids, p_categories, p_purpose, p_target,
        p_details, p_client_ip, p_user_agent, p_device, p_device_id, p_site, new_entry_hash
    );
    IF cardinality(p_students) > 0 THEN
        INSERT INTO audit_auditentrystudent (entry_id, student_id)
            SELECT new_seq, s FROM unnest(p_students) AS s;
    END IF;
    IF cardinality(p_reads) > 0 THEN
        INSERT INTO audit_actorstudentread (actor_id, student_id, last_read_at)
            SELECT p_actor_id, s, p_occurred_at FROM unnest(p_reads) AS s
            ON CONFLICT (actor_id, student_id) DO UPDATE SET last_read_at =
                GREATEST(audit_actorstudentread.last_read_at, EXCLUDED.last_read_at);
    END IF;
END
$$;
"""

DROP_FUNCTION = (
    "DROP FUNCTION IF EXISTS studentvault_audit_append("
    "bigint, text, bytea, bytea, timestamptz, text, text, text, text, text, text, text, text, "
    "text, text, text, text, text, text, text, text, bigint[], bigint[])"
)


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_FUNCTION, params=None)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_bulk_read_window")]

    operations = [migrations.RunPython(create_function, drop_function)]
