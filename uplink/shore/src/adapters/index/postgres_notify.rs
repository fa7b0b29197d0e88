//! The PostgreSQL index announces its writes: a statement-level trigger on
//! each table the live feed follows sends `NOTIFY seaframe_feed` (see
//! [`crate::adapters::index::listen`]), delivered at commit to every shore instance
//! listening, so that a page on any instance sees at once what another
//! ingested. PostgreSQL folds identical notifications of one transaction
//! into one, so a batch of 512 thumbnails is one notification; a rolled
//! back transaction sends none.

/// The migration that adds the triggers (`EXECUTE FUNCTION`: PostgreSQL 11+).
pub(super) const MIGRATION: &str = r"
CREATE FUNCTION seaframe_feed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('seaframe_feed', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER thumbs_feed AFTER INSERT ON thumbs
    FOR EACH STATEMENT EXECUTE FUNCTION seaframe_feed_notify();
CREATE TRIGGER vessels_feed AFTER INSERT OR UPDATE OR DELETE ON vessels
    FOR EACH STATEMENT EXECUTE FUNCTION seaframe_feed_notify();
CREATE TRIGGER vessel_status_feed AFTER INSERT OR UPDATE OR DELETE ON vessel_status
    FOR EACH STATEMENT EXECUTE FUNCTION seaframe_feed_notify();
CREATE TRIGGER alerts_feed AFTER INSERT OR UPDATE OR DELETE ON alerts
    FOR EACH STATEMENT EXECUTE FUNCTION seaframe_feed_notify();
CREATE TRIGGER configs_feed AFTER INSERT OR UPDATE OR DELETE ON configs
    FOR EACH STATEMENT EXECUTE FUNCTION seaframe_feed_notify();
CREATE TRIGGER config_acks_feed AFTER INSERT ON config_acks
    FOR EACH STATEMENT EXECUTE FUNCTION seaframe_feed_notify();
";

#[cfg(test)]
mod tests {
    #[test]
    fn the_triggers_notify_the_channel_the_feed_listens_on() {
        let call = format!(
            "pg_notify('{}', '')",
            crate::adapters::index::listen::CHANNEL
        );
        assert!(super::MIGRATION.contains(&call));
    }
}
