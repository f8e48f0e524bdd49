"""PostgreSQL: ``studentvault_audit_append_many`` appends several entries and the FERPA
disclosure rows that point at them, in one statement.

Called in autocommit (the API's reads change nothing, so their audit needs no caller's
transaction), the statement is its own transaction: the append lock is taken inside it and
released when it commits, with no client round trip while it is held (docs/adr/0065). Each
entry goes through ``studentvault_audit_append`` (migration 0004), so lock, head, hash and
inserts are exactly the single-entry path. Disclosure rows name their entry by its index in
the list. The SQL is written here, frozen, not imported.
"""

from django.db import migrations

APPEND_MANY_FUNCTION = """
CREATE OR REPLACE FUNCTION studentvault_audit_append_many(
    p_lock_key bigint, p_genesis text, p_hash_head bytea, p_entries jsonb, p_disclosures jsonb
) RETURNS TABLE (new_seq bigint, new_prev_hash text, new_entry_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    e jsonb;
    appended record;
    seqs bigint[] := '{}';
BEGIN
    FOR e IN SELECT value FROM jsonb_array_elements(p_entries) LOOP
        SELECT * INTO STRICT appended FROM studentvault_audit_append(
            p_lock_key, p_genesis, p_hash_head, decode(e->>'hash_tail', 'hex'),
            (e->>'occurred_at')::timestamptz, e->>'actor_kind', e->>'actor_id',
            e->>'actor_username', e->>'actor_role', e->>'action', e->>'outcome',
            e->>'student_ids', e->>'categories', e->>'purpose', e->>'target', e->>'details',
            e->>'client_ip', e->>'user_agent', e->>'device', e->>'device_id', e->>'site',
            ARRAY(SELECT jsonb_array_elements_text(e->'students'))::bigint[],
            ARRAY(SELECT jsonb_array_elements_text(e->'reads'))::bigint[]);
        seqs := seqs || appended.new_seq;
        new_seq := appended.new_seq;
        new_prev_hash := appended.new_prev_hash;
        new_entry_hash := appended.new_entry_hash;
        RETURN NEXT;
    END LOOP;
    INSERT INTO audit_disclosure (
        student_id, recipient, recipient_kind, basis, contract_ref, elements, channel,
        redisclosure_to, disclosed_at, audit_entry_id
    )
    SELECT d.student_id, d.recipient, d.recipient_kind, d.basis, d.contract_ref, d.elements,
        d.channel, d.redisclosure_to, d.disclosed_at, seqs[(x->>'entry')::int + 1]
    FROM jsonb_array_elements(p_disclosures) AS x,
        LATERAL jsonb_populate_record(NULL::audit_disclosure, x) AS d;
END
$$;
"""

DROP_FUNCTION = (
    "DROP FUNCTION IF EXISTS studentvault_audit_append_many(bigint, text, bytea, jsonb, jsonb)"
)


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_MANY_FUNCTION, params=None)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_append_function")]

    operations = [migrations.RunPython(create_function, drop_function)]
